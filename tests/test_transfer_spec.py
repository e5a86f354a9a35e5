"""helpers.transfer.spec: the source model's spec, one per profile, and its fingerprint."""

import pytest

from helpers import transfer

TINY = transfer.SourceSpec(name="tiny_source", filters=(4, 8, 8), epochs=1, batch_size=32, train_size=100)


def test_spec_fingerprint_and_validation():
    assert TINY.fingerprint() == transfer.SourceSpec(**TINY.to_dict()).fingerprint()
    for field, value in [("epochs", 2), ("seed", 1), ("peak_lr", 1e-3), ("train_size", 200), ("bn_momentum", 0.8)]:
        assert transfer.SourceSpec(**{**TINY.to_dict(), field: value}).fingerprint() != TINY.fingerprint()
    with pytest.raises(ValueError, match="name must be a simple file name"):
        transfer.SourceSpec(name="../escape")
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        transfer.SourceSpec(epochs=0)
    with pytest.raises(ValueError, match="bn_momentum must be in"):
        transfer.SourceSpec(bn_momentum=1.0)
    with pytest.raises(ValueError, match="peak_lr must be a positive number"):
        transfer.SourceSpec(peak_lr=0)


def test_the_course_fingerprints_are_unchanged():
    """Existing caches under data/pretrained stay valid: the hashed content never changed."""
    assert transfer.SOURCE_SPECS["full"].fingerprint() == "a2a4c45f81401481"
    assert transfer.SOURCE_SPECS["smoke"].fingerprint() == "ec9b03bdfa13b758"
    assert TINY.fingerprint() == "66a5f4d704ba4209"


def test_each_profile_has_its_own_spec():
    smoke, full = transfer.source_spec("smoke"), transfer.source_spec("full")
    assert smoke.fingerprint() != full.fingerprint() and smoke.name != full.name
    assert transfer.source_spec().name == "source_cnn_smoke"  # tests run in the smoke profile
    with pytest.raises(ValueError, match="profile must be one of"):
        transfer.source_spec("fast")


def test_build_gives_batchnorm_the_spec_momentum():
    model = TINY.build((16, 16, 1), 10)
    momenta = {layer.momentum for layer in model.layers if "_bn" in layer.name}
    assert momenta == {TINY.bn_momentum} and model.output_shape == (None, 10)
