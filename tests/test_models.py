import pytest
import torch

from superconv_lib import models


def test_lenet_is_caffes():
    m = models.lenet()
    convs = [l for l in m if isinstance(l, torch.nn.Conv2d)]
    lins = [l for l in m if isinstance(l, torch.nn.Linear)]
    assert [c.out_channels for c in convs] == [20, 50] and [c.kernel_size for c in convs] == [(5, 5)] * 2
    assert [l.out_features for l in lins] == [500, 10] and lins[0].in_features == 800
    assert models.count_params(m) == 431_080          # Caffe's LeNet has 431,080 parameters
    assert m(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


@pytest.mark.parametrize("depth, params", [(20, 269_722), (56, 853_018)])
def test_resnet_cifar_sizes(depth, params):
    m = models.resnet_cifar(depth)
    # He et al. report 0.27M and 0.85M parameters for ResNet-20 / -56
    assert models.count_params(m) == params
    assert m(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_resnet_without_bn_has_no_batchnorm():
    m = models.resnet_cifar(8, bn=False)
    assert not any(isinstance(l, torch.nn.BatchNorm2d) for l in m.modules())
    assert m(torch.zeros(1, 3, 32, 32)).shape == (1, 10)


@pytest.mark.parametrize("depth", [7, 21, 2, 5.0])
def test_resnet_bad_depth(depth):
    with pytest.raises(ValueError, match="6n\\+2"):
        models.resnet_cifar(depth)


def test_resnet18_and_plain_cnn():
    m = models.resnet18()
    assert 11.1e6 < models.count_params(m) < 11.2e6
    assert m(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert models.plain_cnn()(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_build_by_name():
    assert isinstance(models.build("resnet20"), torch.nn.Module)
    with pytest.raises(ValueError, match="unknown model"):
        models.build("vgg")
