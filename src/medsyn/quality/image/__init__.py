"""Quality metrics for images (photographs, fundus images, DICOM)."""

__all__: list[str] = []
