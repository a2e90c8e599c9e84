"""The PyTorch peer: the assignment's cost, network and initial image in PyTorch eager.

bench/speed.py times its Adam iteration; bench/quality.py times its best modes
(Adam and torch.optim.LBFGS) to the assignment's Adam-200 cost. It needs only
PyTorch, NumPy and Pillow (no TensorFlow), and takes the kernels in the
project's convention ({convN_M: (W (3, 3, in, out), b (out,))}, RGB input with
the means subtracted), so it runs the same network as `stylize(kernels=...)`:

    J = alpha J_content + beta sum_l w_l J_style(l)
    J_content = sum (a_C - a_G)^2 / (4 n_H n_W n_C)             at conv4_2
    J_style(l) = sum (G_S - G_G)^2 / (4 n_C^2 (n_H n_W)^2),   G = A A^T
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional

from nst.images import read_rgb, resize  # no TensorFlow: plain Pillow

MEANS = (123.68, 116.779, 103.939)  # the assignment's RGB means (CONFIG.MEANS)
STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")


def _nchw(nhwc: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2)))


def gram(a: torch.Tensor) -> torch.Tensor:
    """G = A A^T of activations a (1, C, H, W), with A = a as (C, H W)."""
    _, c, h, w = a.shape
    A = a.reshape(c, h * w)
    return A @ A.T


class Peer:
    """The assignment's cost of an image (1, 3, H, W) for `kernels`, with the targets of
    `content` and `style` (image files) resized to width x height."""

    def __init__(self, kernels: dict, content: Path, style: Path, width: int, height: int,
                 alpha: float = 10.0, beta: float = 40.0, style_weight: float = 0.2):  # fmt: skip
        self.alpha, self.beta, self.style_weight = alpha, beta, style_weight
        self.content_layer = "conv4_2"
        names = list(kernels)
        self.names = names[: names.index("conv5_1") + 1]  # the deepest layer the costs use
        self.weights = {  # (3, 3, in, out) -> torch's (out, in, 3, 3)
            name: (torch.from_numpy(W.transpose(3, 2, 0, 1).copy()), torch.from_numpy(b))
            for name, (W, b) in kernels.items()
            if name in self.names
        }
        self.content = self.network_input(resize(read_rgb(content), width, height))
        style_pixels = self.network_input(resize(read_rgb(style), width, height))
        with torch.no_grad():
            self.a_C = self.vgg(_nchw(self.content))[self.content_layer]
            activations = self.vgg(_nchw(style_pixels))
            self.G_S = {name: gram(activations[name]) for name in STYLE_LAYERS}

    @staticmethod
    def network_input(rgb: np.ndarray) -> np.ndarray:
        """(1, H, W, 3) float32: the RGB pixels minus the means, as the assignment's input."""
        return (rgb[None].astype(np.float64) - np.array(MEANS)).astype(np.float32)

    def vgg(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Activations of x (1, 3, H, W) at every conv layer up to conv5_1 (after ReLU), with
        2x2 average pooling (TensorFlow's SAME for any size) after each block."""
        out = {}
        for i, name in enumerate(self.names):
            W, b = self.weights[name]
            x = functional.relu(functional.conv2d(x, W, b, padding=1))
            out[name] = x
            if i + 1 < len(self.names) and self.names[i + 1][4] != name[4]:  # end of a block
                x = functional.avg_pool2d(x, 2, 2, ceil_mode=True)
        return out

    def cost(self, x: torch.Tensor) -> torch.Tensor:
        """J of the network input x (1, 3, H, W)."""
        a = self.vgg(x)
        _, c, h, w = a[self.content_layer].shape
        J_content = ((self.a_C - a[self.content_layer]) ** 2).sum() / (4 * h * w * c)
        J_style = 0
        for name in STYLE_LAYERS:
            _, c, h, w = a[name].shape
            J_layer = ((self.G_S[name] - gram(a[name])) ** 2).sum() / (4 * c**2 * (h * w) ** 2)
            J_style = J_style + self.style_weight * J_layer
        return self.alpha * J_content + self.beta * J_style

    def initial_image(self, seed: int = 0) -> torch.Tensor:
        """The assignment's initial image, drawn as `stylize` draws it with `seed`: 0.6 x
        uniform(-20, 20) noise + 0.4 x the content; a leaf tensor that requires a gradient."""
        np.random.seed(seed)
        noise = np.random.uniform(-20, 20, self.content.shape).astype(np.float32)
        start = noise * 0.6 + (np.array(self.content, dtype=np.float64) * 0.4)
        return _nchw(start.astype(np.float32)).requires_grad_(True)


class Reached(Exception):  # noqa: N818  (not an error: the goal)
    """Raised by a cost callback to stop an optimizer."""


def adam(peer: Peer, on_cost, steps: int, learning_rate: float = 2.0) -> None:
    """Up to `steps` torch.optim.Adam steps (the assignment's learning rate) from the initial
    image, calling on_cost(J) with the cost before each; on_cost may raise Reached to stop."""
    x = peer.initial_image()
    optimizer = torch.optim.Adam([x], lr=learning_rate, eps=1e-8)
    with contextlib.suppress(Reached):
        for _ in range(steps):
            optimizer.zero_grad()
            J = peer.cost(x)
            J.backward()
            on_cost(J.item())
            optimizer.step()


def lbfgs(peer: Peer, on_cost, evaluations: int, history: int = 100) -> None:
    """torch.optim.LBFGS with a strong-Wolfe line search (the mode of neural-style-pt and most
    PyTorch ports) from the initial image for up to `evaluations` cost evaluations, calling
    on_cost(J) at each; on_cost may raise Reached to stop."""
    x = peer.initial_image()
    optimizer = torch.optim.LBFGS([x], lr=1.0, max_iter=evaluations, max_eval=evaluations,
                                  history_size=history, tolerance_grad=0, tolerance_change=0,
                                  line_search_fn="strong_wolfe")  # fmt: skip

    def closure():
        optimizer.zero_grad()
        J = peer.cost(x)
        J.backward()
        on_cost(J.item())
        return J

    with contextlib.suppress(Reached):
        optimizer.step(closure)
