"""Quality metrics for multichannel signals (ECG, EEG)."""

__all__: list[str] = []
