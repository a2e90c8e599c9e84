% Writes octave-v6.mat (uncompressed) and octave-v7.mat (compressed) with GNU Octave: a
% MatConvNet-like layer list and one array of each kind a level-5 .mat file holds, so that
% tests/test_mat_structure.py checks the structure walk against a second writer. The test
% runs it in a temporary folder:  octave --no-gui -q octave_types.m
rand('seed', 1); randn('seed', 1);
l = {};
l{1} = struct('name', 'conv1_1', 'type', 'conv', ...
              'weights', {{single(randn(3, 3, 3, 4)), single(randn(1, 4))}}, ...
              'size', [3 3 3 4], 'pad', [1 1 1 1], 'stride', [1 1], 'precious', false, ...
              'dilate', 1, 'opts', {{}});
l{2} = struct('name', 'relu1_1', 'type', 'relu', 'weights', {{}}, 'precious', false, 'leak', 0);
l{3} = struct('name', 'pool1', 'type', 'pool', 'weights', {{}}, 'method', 'max', ...
              'pool', [2 2], 'stride', [2 2], 'pad', [0 1 0 1], 'precious', false, 'opts', {{}});
layers = l;
meta.normalization.averageImage = single([123.68 116.779 103.939]);
meta.normalization.interpolation = 'bilinear';
meta.normalization.empty = '';
meta.classes.name = {'n01440764', 'n01443537'};
meta.classes.description = {'tench, Tinca tinca', 'goldfish'};
meta.misc = {int8(1), uint16([1 2]), [], zeros(0, 3), 1 + 2i, sparse(eye(3)), ...
             sparse([1 0; 0 2i]), true(2, 2), 'x', {}, struct('a', {}), int64(-5), uint8(7)};
save('-v6', 'octave-v6.mat', 'layers', 'meta');
save('-v7', 'octave-v7.mat', 'layers', 'meta');
