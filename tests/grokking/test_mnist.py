"""MNIST from local IDX files (no network): round trip, bad files named, folder layouts; the digits task."""

import gzip

import numpy as np
import pytest
import torch

from egd.grokking.config import make_config
from egd.grokking.mnist import (
    MNIST_ENV,
    MNIST_FILES,
    IDXFormatError,
    ImageClassification,
    load_mnist,
    mnist_dir,
    read_idx,
    write_idx,
)


def fake_mnist(folder, n_train=12, n_test=5, compress=False, seed=0):
    """The four IDX files of a tiny MNIST-shaped data set; returns the arrays written."""
    rng = np.random.default_rng(seed)
    arrays = {"train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
              "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8)}
    folder.mkdir(parents=True, exist_ok=True)
    for role, name in MNIST_FILES.items():
        write_idx(folder / (name + (".gz" if compress else "")), arrays[role])
    return arrays


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, ">i2", ">i4", ">f4", ">f8"])
def test_idx_round_trip(tmp_path, compress, dtype):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype) if np.dtype(dtype).kind != "u" else \
        np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = write_idx(tmp_path / ("a.idx" + (".gz" if compress else "")), array)
    back = read_idx(path)
    np.testing.assert_array_equal(back, array)
    assert back.shape == (2, 3, 4)


def test_the_header_is_big_endian_idx(tmp_path):
    path = write_idx(tmp_path / "labels", np.array([7, 2, 1], dtype=np.uint8))
    assert path.read_bytes() == bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1])


def test_truncated_file_is_named(tmp_path):
    path = write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((4, 28, 28), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(IDXFormatError, match="train-images-idx3-ubyte.*truncated"):
        read_idx(path)
    path.write_bytes(bytes([0, 0, 8, 3, 0, 0]))  # the header itself cut short
    with pytest.raises(IDXFormatError, match="truncated header"):
        read_idx(path)


def test_truncated_gzip_is_named(tmp_path):
    path = write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(100, dtype=np.uint8) % 10)
    path.write_bytes(path.read_bytes()[:-12])
    with pytest.raises(IDXFormatError, match="t10k-labels-idx1-ubyte.gz"):
        read_idx(path)


def test_wrong_magic_number_is_named(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(bytes([0x1A, 0x2B, 8, 1, 0, 0, 0, 1, 5]))
    with pytest.raises(IDXFormatError, match=r"train-labels-idx1-ubyte: wrong magic number 0x1a2b0801"):
        read_idx(path)
    path.write_bytes(bytes([0, 0, 0x42, 1, 0, 0, 0, 1, 5]))  # unknown dtype code
    with pytest.raises(IDXFormatError, match="wrong magic number"):
        read_idx(path)
    path.write_bytes(b"\x00\x00")
    with pytest.raises(IDXFormatError, match="too short"):
        read_idx(path)


def test_longer_than_the_header_says(tmp_path):
    path = write_idx(tmp_path / "x", np.zeros(3, dtype=np.uint8))
    path.write_bytes(path.read_bytes() + b"\x00")
    with pytest.raises(IDXFormatError, match="longer than its header"):
        read_idx(path)


@pytest.mark.parametrize("layout", [".", "MNIST/raw", "raw"])
@pytest.mark.parametrize("compress", [False, True])
def test_folder_layouts_and_environment_variable(tmp_path, monkeypatch, layout, compress):
    arrays = fake_mnist(tmp_path / layout, compress=compress)
    assert mnist_dir(tmp_path) == (tmp_path / layout).resolve() or mnist_dir(tmp_path) == tmp_path / layout
    monkeypatch.setenv(MNIST_ENV, str(tmp_path))
    loaded = load_mnist()
    for role in MNIST_FILES:
        np.testing.assert_array_equal(loaded[role], arrays[role])


def test_missing_files_say_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv(MNIST_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match="--mnist-dir.*digits"):
        mnist_dir()
    fake_mnist(tmp_path)
    (tmp_path / MNIST_FILES["test_labels"]).unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        mnist_dir(tmp_path)


def test_mismatched_images_and_labels(tmp_path):
    fake_mnist(tmp_path)
    write_idx(tmp_path / MNIST_FILES["train_labels"], np.zeros(3, dtype=np.uint8))
    with pytest.raises(IDXFormatError, match="train images"):
        load_mnist(tmp_path)


def test_mnist_task_builds_the_first_training_images(tmp_path, monkeypatch):
    arrays = fake_mnist(tmp_path, n_train=12, n_test=5, compress=True)
    monkeypatch.setenv(MNIST_ENV, str(tmp_path))
    data = ImageClassification("mnist", n_train=10).build()
    assert data.x_train.shape == (10, 784) and data.x_test.shape == (5, 784) and data.out_features == 10
    np.testing.assert_allclose(data.x_train[3].numpy(), arrays["train_images"][3].reshape(-1) / 255.0, rtol=1e-6)
    assert data.y_test.tolist() == arrays["test_labels"].tolist() and data.y_train.dtype == torch.int64
    config = make_config("mnist", "egd-svd", preset="smoke", n_train=10, batch_size=5)
    assert config.build_task().build().n_train == 10


def test_digits_task_is_sklearns_first_images():
    from sklearn.datasets import load_digits

    data = ImageClassification("digits", n_train=1000).build()
    digits = load_digits()
    assert data.n_train == 1000 and data.n_test == 797 and data.in_features == 64
    np.testing.assert_allclose(data.x_train[0].numpy(), digits.data[0] / 16.0, rtol=1e-6)
    assert data.y_test[-1].item() == digits.target[-1]
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0


@pytest.mark.parametrize("bad", [dict(task="cifar"), dict(n_train=0), dict(n_train=1797), dict(n_test=900)])
def test_image_task_arguments_are_checked(bad):
    args = dict(task="digits", n_train=1000, n_test=None) | bad
    with pytest.raises(ValueError):
        ImageClassification(**args)


def test_gzip_detected_by_content_not_name(tmp_path):
    path = tmp_path / "plain-name"
    array = np.arange(6, dtype=np.uint8).reshape(2, 3)
    body = bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + array.tobytes()
    path.write_bytes(gzip.compress(body))
    np.testing.assert_array_equal(read_idx(path), array)


def test_cli_trains_on_local_mnist_files(tmp_path, monkeypatch, capsys):
    from egd.grokking.cli import main

    monkeypatch.delenv(MNIST_ENV, raising=False)
    fake_mnist(tmp_path / "data" / "MNIST" / "raw", n_train=60, n_test=20, compress=True)
    code = main(["train", "--task", "mnist", "--method", "egd-svd", "--preset", "smoke", "--mnist-dir",
                 str(tmp_path / "data"), "--n-train", "50", "--batch-size", "25", "--max-epochs", "2",
                 "--out", str(tmp_path / "out"), "--no-progress", "--threads", "1"])
    assert code == 0
    assert "mnist-n50-mlp3-wd0.01-egd-svd-s0-" in capsys.readouterr().out
    assert len(list((tmp_path / "out").glob("*.json"))) == 1
