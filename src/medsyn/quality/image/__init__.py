"""Quality metrics for images (photographs, fundus images, DICOM); importing this package registers them.

Every metric reads the same per-image features (:func:`features_for`), computed in one pass
per image and cached per dataset, so a full image audit decodes each image once.
"""

from medsyn.quality.image._base import ImageMetric, Limits
from medsyn.quality.image._colour import Colourfulness
from medsyn.quality.image._duplicates import ExactDuplicates, NearDuplicates
from medsyn.quality.image._exposure import Brightness, Contrast, Exposure
from medsyn.quality.image._features import FeatureConfig, ImageFeatures, extract_features, features_for, perceptual_hash
from medsyn.quality.image._fundus import FundusFieldOfView, FundusGradability, FundusIllumination
from medsyn.quality.image._geometry import ResolutionConsistency
from medsyn.quality.image._sharpness import Noise, Sharpness

__all__ = [
    "Brightness",
    "Colourfulness",
    "Contrast",
    "ExactDuplicates",
    "Exposure",
    "FeatureConfig",
    "FundusFieldOfView",
    "FundusGradability",
    "FundusIllumination",
    "ImageFeatures",
    "ImageMetric",
    "Limits",
    "NearDuplicates",
    "Noise",
    "ResolutionConsistency",
    "Sharpness",
    "extract_features",
    "features_for",
    "perceptual_hash",
]
