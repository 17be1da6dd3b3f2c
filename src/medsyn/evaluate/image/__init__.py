"""Fidelity, diversity and memorisation of synthetic images, through a pluggable encoder.

Importing this package registers the image metrics (``frechet_distance``,
``kernel_inception_distance``, ``image_precision``, ``image_recall``, ``image_density``,
``image_coverage``, ``image_memorisation``, ``image_quality_shift``), the image encoders
(``offline``, ``inception_v3``, ``torchscript``) and the image checks of the evaluation inputs.
Torch is imported only when a torch encoder is used.
"""

from medsyn.evaluate.image._common import DEFAULT_ENCODER, ImageFeatureMetric
from medsyn.evaluate.image._encoders import (
    ENCODERS,
    EncoderInfo,
    ImageEncoder,
    InceptionEncoder,
    TorchScriptEncoder,
    check_encoder,
    encoder_from_spec,
    get_encoder,
    inception_weights_candidates,
)
from medsyn.evaluate.image._features import EncodedSides, image_features
from medsyn.evaluate.image._frechet import FrechetDistance, FrechetParts, frechet_distance, frechet_parts
from medsyn.evaluate.image._kid import KernelInceptionDistance, KidEstimate, kernel_mmd2, kid
from medsyn.evaluate.image._memorisation import (
    ImageMemorisation,
    MemorisationScan,
    MemorisedPair,
    memorisation_pairs,
    ssim_batch,
)
from medsyn.evaluate.image._offline import OfflineEncoder, offline_features
from medsyn.evaluate.image._pixels import PixelPass, pixel_pass, thumbnail, to_rgb8
from medsyn.evaluate.image._prdc import ImageCoverage, ImageDensity, ImagePrecision, ImageRecall, Manifolds, manifolds
from medsyn.evaluate.image._quality_shift import ImageQualityShift
from medsyn.evaluate.image._validate import check_image_inputs

__all__ = [
    "DEFAULT_ENCODER",
    "ENCODERS",
    "EncodedSides",
    "EncoderInfo",
    "FrechetDistance",
    "FrechetParts",
    "ImageCoverage",
    "ImageDensity",
    "ImageEncoder",
    "ImageFeatureMetric",
    "ImageMemorisation",
    "ImagePrecision",
    "ImageQualityShift",
    "ImageRecall",
    "InceptionEncoder",
    "KernelInceptionDistance",
    "KidEstimate",
    "Manifolds",
    "MemorisationScan",
    "MemorisedPair",
    "OfflineEncoder",
    "PixelPass",
    "TorchScriptEncoder",
    "check_encoder",
    "check_image_inputs",
    "encoder_from_spec",
    "frechet_distance",
    "frechet_parts",
    "get_encoder",
    "image_features",
    "inception_weights_candidates",
    "kernel_mmd2",
    "kid",
    "manifolds",
    "memorisation_pairs",
    "offline_features",
    "pixel_pass",
    "ssim_batch",
    "thumbnail",
    "to_rgb8",
]
