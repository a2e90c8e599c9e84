"""A folder laid out as the course's: a TF 1.x notebook, its nst_utils.py, images/ and
pretrained-model/, written by the tests in the course's form (TF 1.x code throughout).

The notebook's cells do what the assignment's do, with their own cost functions,
`import tensorflow as tf` and `scipy.misc.imread`. Its stored outputs are the
assignment's expected outputs (../shared/reference/coursera-assignment.md) as
TF 1.x and NumPy 1.13 printed them, and, for the image cells, what SciPy 1.1's
functions return for these images. The course's nst_utils.py reads the .mat
file with scipy and fixed positions, and builds the network from tf.constant
kernels with `tf.nn.conv2d(..., filter=W)`; here its CONFIG is 40x30 pixels so
that the network is quick to build.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from matconvnet_files import random_kernels, write_vgg_mat
from PIL import Image

COURSE_NST_UTILS = """\
### Loads the pretrained VGG-19 parameters for the notebook (the course's way) ###

import os
import sys
import scipy.io
import scipy.misc
import matplotlib.pyplot as plt
from matplotlib.pyplot import imshow
from PIL import Image
from nst_utils import *

import numpy as np
import tensorflow as tf


class CONFIG:
    IMAGE_WIDTH = 40
    IMAGE_HEIGHT = 30
    COLOR_CHANNELS = 3
    NOISE_RATIO = 0.6
    MEANS = np.array([123.68, 116.779, 103.939]).reshape((1,1,1,3))
    VGG_MODEL = 'pretrained-model/imagenet-vgg-verydeep-19.mat'
    STYLE_IMAGE = 'images/stone_style.jpg'
    CONTENT_IMAGE = 'images/content300.jpg'
    OUTPUT_DIR = 'output/'


def load_vgg_model(path):
    vgg = scipy.io.loadmat(path)
    vgg_layers = vgg['layers']

    def _weights(layer, expected_layer_name):
        wb = vgg_layers[0][layer][0][0][2]
        W = wb[0][0]
        b = wb[0][1]
        layer_name = vgg_layers[0][layer][0][0][0][0]
        assert layer_name == expected_layer_name
        return W, b

    def _conv2d_relu(prev_layer, layer, layer_name):
        W, b = _weights(layer, layer_name)
        W = tf.constant(W)
        b = tf.constant(np.reshape(b, (b.size)))
        return tf.nn.relu(tf.nn.conv2d(prev_layer, filter=W, strides=[1, 1, 1, 1],
                                       padding='SAME') + b)

    def _avgpool(prev_layer):
        return tf.nn.avg_pool(prev_layer, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1],
                              padding='SAME')

    graph = {}
    graph['input'] = tf.Variable(np.zeros((1, CONFIG.IMAGE_HEIGHT, CONFIG.IMAGE_WIDTH,
                                           CONFIG.COLOR_CHANNELS)), dtype='float32')
    layer, previous = 0, graph['input']
    for block, depth in enumerate((2, 2, 4, 4, 4), start=1):
        for k in range(1, depth + 1):
            name = 'conv%d_%d' % (block, k)
            graph[name] = previous = _conv2d_relu(previous, layer, name)
            layer += 2
        graph['avgpool%d' % block] = previous = _avgpool(previous)
        layer += 1
    return graph


def generate_noise_image(content_image, noise_ratio = CONFIG.NOISE_RATIO):
    noise_image = np.random.uniform(-20, 20, (1, CONFIG.IMAGE_HEIGHT, CONFIG.IMAGE_WIDTH,
                                              CONFIG.COLOR_CHANNELS)).astype('float32')
    return noise_image * noise_ratio + content_image * (1 - noise_ratio)


def reshape_and_normalize_image(image):
    image = np.reshape(image, ((1,) + image.shape))
    return image - CONFIG.MEANS


def save_image(path, image):
    image = image + CONFIG.MEANS
    image = np.clip(image[0], 0, 255).astype('uint8')
    scipy.misc.imsave(path, image)
"""

IMPORTS = """\
import os
import sys
import scipy.io
import scipy.misc
import matplotlib.pyplot as plt
from matplotlib.pyplot import imshow
from PIL import Image
from nst_utils import *
import numpy as np
import tensorflow as tf

%matplotlib inline"""

CONTENT_COST = """\
def compute_content_cost(a_C, a_G):
    m, n_H, n_W, n_C = a_G.get_shape().as_list()
    a_C_unrolled = tf.reshape(a_C, [n_H * n_W, n_C])
    a_G_unrolled = tf.reshape(a_G, [n_H * n_W, n_C])
    J_content = tf.reduce_sum(tf.square(tf.subtract(a_C_unrolled, a_G_unrolled))) / (4 * n_H * n_W * n_C)
    return J_content"""  # noqa: E501 - a notebook's line

CONTENT_TEST = """\
tf.reset_default_graph()

with tf.Session() as test:
    tf.set_random_seed(1)
    a_C = tf.random_normal([1, 4, 4, 3], mean=1, stddev=4)
    a_G = tf.random_normal([1, 4, 4, 3], mean=1, stddev=4)
    J_content = compute_content_cost(a_C, a_G)
    print("J_content = " + str(J_content.eval()))"""

STYLE_COST = """\
def gram_matrix(A):
    return tf.matmul(A, tf.transpose(A))

def compute_layer_style_cost(a_S, a_G):
    m, n_H, n_W, n_C = a_G.get_shape().as_list()
    a_S = tf.transpose(tf.reshape(a_S, [n_H * n_W, n_C]))
    a_G = tf.transpose(tf.reshape(a_G, [n_H * n_W, n_C]))
    GS = gram_matrix(a_S)
    GG = gram_matrix(a_G)
    return tf.reduce_sum(tf.square(tf.subtract(GS, GG))) / (4 * n_C**2 * (n_H * n_W)**2)"""

GRAM_TEST = """\
tf.reset_default_graph()

with tf.Session() as test:
    tf.set_random_seed(1)
    A = tf.random_normal([3, 2*1], mean=1, stddev=4)
    GA = gram_matrix(A)

    print("GA = " + str(GA.eval()))"""

STORED_GA = """\
GA = [[  6.42230511  -4.42912197  -2.09668207]
 [ -4.42912197  19.46583748  19.56387138]
 [ -2.09668207  19.56387138  20.6864624 ]]
"""

STYLE_TEST = """\
tf.reset_default_graph()

with tf.Session() as test:
    tf.set_random_seed(1)
    a_S = tf.random_normal([1, 4, 4, 3], mean=1, stddev=4)
    a_G = tf.random_normal([1, 4, 4, 3], mean=1, stddev=4)
    J_style_layer = compute_layer_style_cost(a_S, a_G)

    print("J_style_layer = " + str(J_style_layer.eval()))"""

TOTAL_COST = """\
def total_cost(J_content, J_style, alpha = 10, beta = 40):
    return alpha * J_content + beta * J_style

np.random.seed(3)
J_content = np.random.randn()
J_style = np.random.randn()
J = total_cost(J_content, J_style)
print("J = " + str(J))"""

IMAGES = """\
content_image = scipy.misc.imread("images/content300.jpg")
imshow(content_image)
print(content_image.shape, content_image.dtype)
small = scipy.misc.imresize(content_image, 50)
scipy.misc.imsave("output/small.png", small)
scipy.misc.imread("output/small.png").shape"""

MODEL = """\
tf.reset_default_graph()
sess = tf.InteractiveSession()
content_image = reshape_and_normalize_image(scipy.misc.imread("images/content300.jpg"))
style_image = reshape_and_normalize_image(scipy.misc.imread("images/stone_style.jpg"))
generated_image = generate_noise_image(content_image)
model = load_vgg_model("pretrained-model/imagenet-vgg-verydeep-19.mat")
sess.run(model['input'].assign(content_image))
a_C = sess.run(model['conv4_2'])
J_content = compute_content_cost(a_C, model['conv4_2'])
sess.run(model['input'].assign(style_image))
a_S = sess.run(model['conv1_1'])
J_style = compute_layer_style_cost(a_S, model['conv1_1'])
J = total_cost(J_content, J_style)
optimizer = tf.train.AdamOptimizer(2.0)
train_step = optimizer.minimize(J)"""

MODEL_NN = """\
def model_nn(sess, input_image, num_iterations = 3):
    sess.run(tf.global_variables_initializer())
    sess.run(model['input'].assign(input_image))
    for i in range(num_iterations):
        sess.run(train_step)
        generated_image = sess.run(model['input'])
        if i%2 == 0:
            Jt, Jc, Js = sess.run([J, J_content, J_style])
            print("Iteration " + str(i) + " :")
            save_image("output/" + str(i) + ".png", generated_image)
    save_image('output/generated_image.jpg', generated_image)
    return generated_image

generated = model_nn(sess, generated_image)
print(generated.shape)"""

CELLS = [
    (IMPORTS, None),
    (CONTENT_COST, None),
    (CONTENT_TEST, "J_content = 6.76559\n"),
    (STYLE_COST, None),
    (GRAM_TEST, STORED_GA),
    (STYLE_TEST, "J_style_layer = 9.19028\n"),
    (TOTAL_COST, "J = 35.34667875478276\n"),
    (IMAGES, ("(30, 40, 3) uint8\n", "(15, 20, 3)")),
    (MODEL, None),
    (MODEL_NN, "Iteration 0 :\nIteration 2 :\n(1, 30, 40, 3)\n"),
]
"""(source, stored output) of each code cell; a stored output is the text it printed, or
(printed text, Out[n]'s text)."""


def notebook_json(cells) -> dict:
    """An nbformat 4 notebook of these (source, stored output) code cells, with a markdown
    cell before each, as the course's notebook has."""
    document = {"nbformat": 4, "nbformat_minor": 2, "cells": [],
                "metadata": {"kernelspec": {"name": "python3", "language": "python",
                                            "display_name": "Python 3"}}}  # fmt: skip
    for number, (source, stored) in enumerate(cells, start=1):
        outputs = []
        printed, result = stored if isinstance(stored, tuple) else (stored, None)
        if printed:
            lines = printed.splitlines(keepends=True)
            outputs.append({"output_type": "stream", "name": "stdout", "text": lines})
        if result:
            outputs.append({"output_type": "execute_result", "execution_count": number,
                            "data": {"text/plain": [result]}, "metadata": {}})  # fmt: skip
        document["cells"] += [
            {"cell_type": "markdown", "metadata": {}, "source": [f"## Part {number}"]},
            {"cell_type": "code", "execution_count": number, "metadata": {},
             "source": source.splitlines(keepends=True), "outputs": outputs},
        ]  # fmt: skip
    return document


def course_folder(folder: Path, cells=CELLS, kernels=None) -> Path:
    """Write the course's layout into `folder`; returns the notebook's path."""
    (folder / "images").mkdir(parents=True)
    (folder / "output").mkdir()
    (folder / "pretrained-model").mkdir()
    (folder / "nst_utils.py").write_text(COURSE_NST_UTILS, encoding="utf-8")
    rng = np.random.default_rng(5)
    for name in ("content300.jpg", "stone_style.jpg"):
        pixels = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / "images" / name, quality=95)
    weights = folder / "pretrained-model" / "imagenet-vgg-verydeep-19.mat"
    write_vgg_mat(weights, kernels or random_kernels(0))
    notebook = folder / "Art Generation with Neural Style Transfer - v2.ipynb"
    notebook.write_text(json.dumps(notebook_json(cells), indent=1), encoding="utf-8")
    return notebook
