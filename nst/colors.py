"""Colour preservation: the result's luminance with the content's colours, and colour
matching of the input images before the transfer.

Gatys et al. (2016, "Preserving Color in Neural Artistic Style Transfer") give two ways.
Luminance-only transfer (`preserve_colors`): the result's luma Y is combined with the
content's chroma Cb, Cr (ITU-R BT.601, full range, as in JPEG). Colour histogram
matching (`match_colors`, --color-transfer): before the transfer, one image's colours
are changed to match another's, by the linear map that matches the colours' mean and
3x3 covariance (`match_covariance`) or by matching each channel's histogram
(`match_histograms`). Pixel values are 0..255 throughout.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

COVARIANCE_EPSILON = 0.1
"""epsilon added to the diagonal of the source's colour covariance, in pixel values
squared (0..255 scale): a flat image (covariance 0) then maps to the target's mean
colour instead of NaN. It is about the variance of rounding to whole levels (1/12), so
colour directions holding only rounding noise are not blown up; an image with a
channel variance of 100 has its spread scaled by sqrt(100 / 100.1), 0.9995."""

# Rows give Y, Cb, Cr from R, G, B (0..255); Cb and Cr are centred on 0 here.
_RGB_TO_YCBCR = np.array(
    [
        [0.299, 0.587, 0.114],
        [-0.168736, -0.331264, 0.5],
        [0.5, -0.418688, -0.081312],
    ]
)
_YCBCR_TO_RGB = np.linalg.inv(_RGB_TO_YCBCR)


def preserve_colors(content: np.ndarray, result: np.ndarray) -> np.ndarray:
    """uint8 RGB with Y from `result` and Cb, Cr from `content` (both (H, W, 3), same size)."""
    return np.round(with_content_chroma(content, result)).astype(np.uint8)


def with_content_chroma(content: np.ndarray, result: np.ndarray) -> np.ndarray:
    """float64 RGB in 0..255, not rounded: Y from `result` and Cb, Cr from `content`
    (both (H, W, 3) on the 0..255 scale, any dtype, same size), clipped to 0..255."""
    if content.shape != result.shape:
        raise ValueError(f"content {content.shape} and result {result.shape} differ in size")
    luma = result.astype(np.float64) @ _RGB_TO_YCBCR[0]
    ycbcr = content.astype(np.float64) @ _RGB_TO_YCBCR.T
    ycbcr[..., 0] = luma
    rgb = ycbcr @ _YCBCR_TO_RGB.T
    return np.clip(rgb, 0, 255)


def pooled_pixels(
    images: Sequence[np.ndarray], shares: Sequence[float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """All pixels of `images` ((H, W, 3) each) as (N, 3) and each pixel's weight: image k's
    share s_k / sum(s) (equal shares when None) spread evenly over its pixels, so that the
    weights sum to 1 and the pooled pixels are the blend of the images' colours."""
    shares = np.ones(len(images)) if shares is None else np.asarray(shares, dtype=np.float64)
    shares = shares / shares.sum()
    pixels = np.concatenate([image.reshape(-1, 3) for image in images])
    weights = np.concatenate(
        [
            np.full(image.shape[0] * image.shape[1], share / (image.shape[0] * image.shape[1]))
            for image, share in zip(images, shares, strict=True)
        ]
    )
    return pixels, weights


def color_statistics(pixels: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The weighted mean colour mu = sum_i w_i x_i (3,) and covariance
    Sigma = sum_i w_i (x_i - mu)(x_i - mu)^T (3, 3) of pixels x_i (N, 3) with weights w_i
    summing to 1 (1/N each: the population covariance)."""
    x = pixels.astype(np.float64)
    mu = weights @ x
    centred = x - mu
    return mu, (centred * weights[:, None]).T @ centred


def symmetric_power(matrix: np.ndarray, power: float) -> np.ndarray:
    """M^p of a symmetric positive semi-definite M = V diag(lambda) V^T: V diag(lambda^p) V^T,
    the symmetric matrix power (eigenvalues below 0, from rounding, count as 0)."""
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.maximum(values, 0.0) ** power) @ vectors.T


def match_covariance(
    source: np.ndarray,
    targets: Sequence[np.ndarray],
    shares: Sequence[float] | None = None,
    epsilon: float = COVARIANCE_EPSILON,
) -> np.ndarray:
    """`source` (uint8 RGB, (H, W, 3)) with the colour mean and covariance of `targets`
    (blended with `shares`, see pooled_pixels): Gatys et al.'s linear colour transfer.

    Each pixel x (0..255 values) becomes x' = A (x - mu_s) + mu_t with
    A = Sigma_t^(1/2) (Sigma_s + epsilon I)^(-1/2), symmetric square roots
    (symmetric_power), where mu_s, Sigma_s are the source's mean and covariance and
    mu_t, Sigma_t the targets'. Then mean(x') = mu_t and, for epsilon = 0,
    cov(x') = A Sigma_s A^T = Sigma_t. x' is clipped to 0..255 and rounded to uint8.
    """
    x = source.reshape(-1, 3).astype(np.float64)
    mu_s, sigma_s = color_statistics(x, np.full(len(x), 1.0 / len(x)))
    mu_t, sigma_t = color_statistics(*pooled_pixels(targets, shares))
    a = symmetric_power(sigma_t, 0.5) @ symmetric_power(sigma_s + epsilon * np.eye(3), -0.5)
    return _to_uint8(((x - mu_s) @ a.T + mu_t).reshape(source.shape))


def match_histograms(
    source: np.ndarray, targets: Sequence[np.ndarray], shares: Sequence[float] | None = None
) -> np.ndarray:
    """`source` (uint8 RGB, (H, W, 3)) with each channel's histogram matched to the
    targets' (blended with `shares`, see pooled_pixels) by quantile mapping.

    Per channel, level v of the source (0..255) has the mid-rank quantile
    F_s(v) = (#{x < v} + #{x = v} / 2) / N, and the targets' levels u with pixels have
    F_t(u) = W(x < u) + W(x = u) / 2 (W: the pixels' summed weights); v becomes
    F_t^(-1)(F_s(v)), interpolated linearly between the target's levels (np.interp),
    rounded to uint8.
    """
    pixels, weights = pooled_pixels(targets, shares)
    result = np.empty(source.shape)
    levels = np.arange(256)
    for c in range(3):
        counts = np.bincount(source[..., c].ravel(), minlength=256)
        quantiles = (np.cumsum(counts) - counts / 2) / counts.sum()
        mass = np.bincount(pixels[:, c], weights=weights, minlength=256)
        present = mass > 0
        target_quantiles = (np.cumsum(mass) - mass / 2)[present]
        result[..., c] = np.interp(quantiles, target_quantiles, levels[present])[source[..., c]]
    return _to_uint8(result)


COLOR_MATCHERS: dict[str, Callable[..., np.ndarray]] = {
    "covariance": match_covariance,
    "histogram": match_histograms,
}
"""--color-match's methods: f(source, targets, shares) -> source recoloured (uint8)."""


def match_colors(
    source: np.ndarray,
    targets: Sequence[np.ndarray],
    shares: Sequence[float] | None = None,
    method: str = "covariance",
) -> np.ndarray:
    """`source` with the colours of `targets` blended with `shares`, by `method` (a key of
    COLOR_MATCHERS); uint8 RGB (H, W, 3) in and out."""
    if method not in COLOR_MATCHERS:
        raise ValueError(f"unknown colour matching {method!r}; one of {', '.join(COLOR_MATCHERS)}")
    return COLOR_MATCHERS[method](source, targets, shares)


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.round(values), 0, 255).astype(np.uint8)
