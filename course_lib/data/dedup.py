"""Exact and near duplicates: MinHash-style blocking on word bigrams, then rapidfuzz verification.

Taught in notebook 01 (:func:`find_duplicates`); :func:`~course_lib.data.find_leakage` runs it across splits.
numpy and rapidfuzz are imported inside the functions that need them.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass


_WORD = re.compile(r"\w+")


def normalize_for_match(text: str) -> str:
    """Case-folded words joined by single spaces: what near-duplicate comparison looks at."""
    return " ".join(_WORD.findall(text.casefold()))


def _signatures(norm_texts: list[str], n_hash: int, seed: int = 1, chunk: int = 32_768):
    """MinHash signatures (n_texts, n_hash) of each text's set of word bigrams (numpy, deterministic).

    Hash family: multiply-shift, ``((a*h + b) mod 2^64) >> 32`` with odd random 64-bit ``a`` (uint64
    arithmetic wraps, which is exactly the ``mod 2^64``); bigram ids ``h`` are CRC32 values. Computed in chunks
    of ``chunk`` bigrams so memory stays ~``chunk * n_hash * 8`` bytes.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    a = rng.integers(1, 1 << 63, size=n_hash, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 1 << 63, size=n_hash, dtype=np.uint64)
    shift = np.uint64(32)
    sigs = np.empty((len(norm_texts), n_hash), dtype=np.uint64)
    hashes, offsets, first = [], [], 0
    for k, t in enumerate(norm_texts + [None]):
        if t is not None:
            words = t.split()
            grams = {words[i] + " " + words[i + 1] for i in range(len(words) - 1)} or set(words) or {""}
            offsets.append(len(hashes))
            hashes.extend(zlib.crc32(g.encode()) for g in grams)
        if hashes and (t is None or len(hashes) >= chunk):
            h = np.asarray(hashes, dtype=np.uint64)
            with np.errstate(over="ignore"):
                sig_all = (h[:, None] * a[None, :] + b[None, :]) >> shift
            sigs[first:first + len(offsets)] = np.minimum.reduceat(sig_all, np.asarray(offsets), axis=0)
            first += len(offsets)
            hashes, offsets = [], []
    return sigs


def _candidate_pairs(norm_texts: list[str], bands: int = 20, rows_per_band: int = 3, min_jaccard: float = 0.3,
                     max_bucket: int = 200):
    """Index pairs ``(i, j)``, i < j, likely to be near-duplicates (numpy arrays ``i``, ``j``).

    Locality-sensitive hashing on MinHash signatures of word bigrams: two texts with Jaccard similarity J share
    a band with probability 1 - (1 - J**rows_per_band)**bands (0.9999 at J=0.8, 0.998 at J=0.65, 0.9 at J=0.5 with the defaults),
    so near-duplicates are found without comparing all n² pairs. Pairs whose signatures agree on fewer than
    ``min_jaccard`` of positions (estimated Jaccard) are discarded; the caller verifies the rest exactly.
    Buckets larger than ``max_bucket`` (boilerplate shared by many rows) are skipped for that band.
    """
    import numpy as np

    n = len(norm_texts)
    sigs = _signatures(norm_texts, bands * rows_per_band)
    found = []
    mult = np.arange(1, rows_per_band + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    for band in range(bands):
        block = sigs[:, band * rows_per_band:(band + 1) * rows_per_band]
        keys = (block * mult).sum(axis=1)  # wraps modulo 2^64: a hash of the band
        order = np.argsort(keys, kind="stable")
        sk = keys[order]
        breaks = np.flatnonzero(np.diff(sk)) + 1
        starts = np.concatenate(([0], breaks))
        sizes = np.diff(np.concatenate((starts, [n])))
        for st, size in zip(starts[sizes > 1], sizes[sizes > 1]):
            if size > max_bucket:
                continue
            members = np.sort(order[st:st + size])
            ii, jj = np.triu_indices(size, k=1)
            found.append(members[ii] * n + members[jj])
    if not found:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    codes = np.unique(np.concatenate(found))
    i, j = codes // n, codes % n
    agree = (sigs[i] == sigs[j]).mean(axis=1)
    keep = agree >= min_jaccard
    return i[keep], j[keep]


@dataclass
class Duplicate:
    """One removed duplicate: ``index`` duplicates ``of`` (both positions in the input list, ``of < index``)."""

    index: int
    of: int
    kind: str  # "exact" (identical text) or "near" (similarity >= threshold after case/punctuation folding)
    score: float  # rapidfuzz ratio 0-100


def find_duplicates(texts: list[str], threshold: float = 90.0) -> list[Duplicate]:
    """Exact and near duplicates in ``texts``; the first occurrence is kept, later ones are reported.

    Near duplicates: ``rapidfuzz.fuzz.ratio`` (normalised Indel similarity, 0-100) of the case-folded word
    sequences is at least ``threshold``; candidate pairs come from :func:`_candidate_pairs`. Chains are merged
    (a ~ b ~ c keeps only a).
    """
    from rapidfuzz import fuzz

    dups: dict[int, Duplicate] = {}
    first_seen: dict[str, int] = {}
    for i, t in enumerate(texts):
        if t in first_seen:
            dups[i] = Duplicate(i, first_seen[t], "exact", 100.0)
        else:
            first_seen[t] = i
    unique = sorted(first_seen.values())
    norms = [normalize_for_match(texts[i]) for i in unique]
    if len(unique) > 1:
        ci, cj = _candidate_pairs(norms)
        for x, y in zip(ci.tolist(), cj.tolist()):
            score = fuzz.ratio(norms[x], norms[y], score_cutoff=threshold)
            if score:
                i, j = unique[x], unique[y]
                if j not in dups:
                    dups[j] = Duplicate(j, i, "near", round(score, 1))
    for d in dups.values():  # point chains at the kept row
        while d.of in dups:
            d.of = dups[d.of].of
    return sorted(dups.values(), key=lambda d: d.index)
