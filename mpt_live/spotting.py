"""Micro-expression spotting: the columns of ``events.csv`` (one row per spotted event)."""

from __future__ import annotations

# video, face (track id), onset/apex/offset in seconds and as 0-based frame indices (inclusive),
# type micro|macro, class (empty without a model), its confidence, and the spotting score
EVENT_COLUMNS = ["video", "face", "onset_s", "apex_s", "offset_s", "onset_frame", "apex_frame", "offset_frame",
                 "type", "class", "confidence", "score"]
