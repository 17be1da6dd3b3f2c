"""Exact duplicates (same pixels) and near-duplicates (same picture, re-encoded, resized or retouched)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

import numpy as np

from medsyn.data.dataset import Dataset
from medsyn.metric import METRICS, ItemResult, MetricResult, Status, Threshold
from medsyn.quality.image._base import ImageMetric
from medsyn.quality.image._features import FeatureConfig, ImageFeatures

__all__ = ["ExactDuplicates", "NearDuplicates", "near_pairs"]

_HASH_BITS = 256
_BLOCK = 1024


def near_pairs(hashes: Sequence[bytes], max_distance: int) -> Iterator[tuple[int, int, int]]:
    """Pairs ``(i, j, distance)`` with ``i < j`` whose hashes differ in at most ``max_distance`` bits.

    Vectorised on 64-bit words and done in blocks of rows, so ten thousand images need a few
    megabytes, not a full distance matrix.
    """
    if len(hashes) < 2:
        return
    words = np.frombuffer(b"".join(hashes), dtype=np.uint64).reshape(len(hashes), -1)
    n = len(words)
    for start in range(0, n, _BLOCK):
        block = words[start : start + _BLOCK]
        dist = np.zeros((len(block), n), dtype=np.uint16)
        for k in range(words.shape[1]):
            dist += np.bitwise_count(block[:, k, None] ^ words[None, :, k]).astype(np.uint16)
        rows, cols = np.nonzero(dist <= max_distance)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            i = start + r
            if c > i:
                yield i, c, int(dist[r, c])


def _groups(n: int, pairs: Sequence[tuple[int, int]]) -> list[list[int]]:
    """Connected groups (union–find) of the indices joined by ``pairs``; singletons left out."""
    parent = list(range(n))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    members: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        members[find(i)].append(i)
    return [sorted(m) for m in members.values() if len(m) > 1]


def _unreadable(feats: Sequence[ImageFeatures]) -> list[ItemResult]:
    return [ImageMetric.error_item(f) for f in feats if not f.ok]


@METRICS.register("image_duplicates")
class ExactDuplicates(ImageMetric):
    """Images whose decoded pixels are identical to an earlier image's (SHA-256 of the pixel array).

    A duplicated image inflates its class, and when one copy lands in the training split and
    the other in the test split it leaks the answer. Identical pixels are caught even when the
    files differ (renamed, re-saved losslessly, other metadata). Each copy after the first is
    one flagged item naming the image it repeats; any duplicate warns, more than 5 % fails.
    """

    name = "image_duplicates"
    title = "Exact duplicate images"
    flagged_as = "are exact copies of another image"
    default_threshold = Threshold(warn=0.0, fail=0.05)

    def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
        feats = self.features(real)
        first: dict[str, int] = {}
        items = _unreadable(feats)
        repeated: set[str] = set()
        for i, f in enumerate(feats):
            if not f.ok:
                continue
            j = first.setdefault(f.content_hash, i)
            if j != i:
                repeated.add(f.content_hash)
                items.append(
                    ItemResult(
                        "image",
                        f.key,
                        1.0,
                        Status.WARN,
                        f"identical pixels to {feats[j].key}",
                        {"duplicate_of": feats[j].key},
                    )
                )
        groups = len(repeated)
        return self.summarise(
            items, total=len(feats), measure=f"{groups} group(s) of identical images", details={"groups": groups}
        )


@METRICS.register("image_near_duplicates")
class NearDuplicates(ImageMetric):
    """Different images showing the same picture, by a 256-bit DCT perceptual hash (pHash) and Hamming distance.

    A re-encoded, resized, slightly cropped or brightened copy has other pixels than its
    original, so exact hashing misses it, yet it leaks between splits just the same. Each image
    gets a perceptual hash (signs of the 16 × 16 lowest DCT frequencies of a 64 × 64 grey
    thumbnail, computed with ``scipy.fft``); two images whose hashes differ in at most
    ``max_distance`` of 256 bits are near-duplicates. On the 480 real fundus photographs the
    closest distinct pictures differ in 34 bits and JPEG re-encoded or 90 %-resized copies in
    at most 6, hence the default 16. Exact copies are left to ``image_duplicates``.
    """

    name = "image_near_duplicates"
    title = "Near-duplicate images (perceptual hash)"
    flagged_as = "are near-copies of another image"
    default_threshold = Threshold(warn=0.0, fail=0.05)

    def __init__(
        self,
        *,
        max_distance: int = 16,
        threshold: Threshold | None = None,
        config: FeatureConfig | None = None,
    ) -> None:
        super().__init__(threshold=threshold, config=config)
        self.max_distance = max_distance

    def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
        feats = self.features(real)
        ok = [i for i, f in enumerate(feats) if f.ok]
        pairs: list[tuple[int, int]] = []
        distance: dict[tuple[int, int], int] = {}
        for a, b, d in near_pairs([feats[i].phash for i in ok], self.max_distance):
            i, j = ok[a], ok[b]
            if feats[i].content_hash == feats[j].content_hash:
                continue
            pairs.append((i, j))
            distance[(i, j)] = d
        items = _unreadable(feats)
        groups = _groups(len(feats), pairs)
        for group in groups:
            head = group[0]
            for i in group[1:]:
                d = distance.get((head, i), min((v for (a, b), v in distance.items() if i in (a, b)), default=0))
                items.append(
                    ItemResult(
                        "image",
                        feats[i].key,
                        float(d),
                        Status.WARN,
                        f"near-copy of {feats[head].key} ({d} of {_HASH_BITS} hash bits differ)",
                        {"near_duplicate_of": feats[head].key, "distance_bits": d},
                    )
                )
        return self.summarise(
            items,
            total=len(feats),
            measure=f"{len(groups)} group(s) within {self.max_distance} of {_HASH_BITS} bits",
            details={"groups": len(groups), "pairs": len(pairs), "max_distance": self.max_distance},
        )
