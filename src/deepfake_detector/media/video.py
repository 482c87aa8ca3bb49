"""Decoding chosen frames of a video with PyAV (FFmpeg), no more of the stream than they need.

Frames are numbered in display order from 0, and a video's frame count and rate are read as OpenCV reads them
(which decoded the pipeline's frames before), so the same frames are chosen. Two savings change no decoded pixel:
decoding stops once the last chosen frame is out, and an H.264 frame that no other frame refers to (its slices'
nal_ref_idc is 0: most B-frames) is not decoded unless chosen. Nothing is predicted from such a frame, so every
frame kept is the one a full decode gives, bit for bit (tests/test_media.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

H264_SLICES = (1, 5)  # NAL unit types of coded slices (non-IDR, IDR); other units carry no picture
AVCC_VERSION = 1  # first byte of MP4/MKV-style H.264 extradata: NAL units are length-prefixed, not start codes


class VideoOpenError(Exception):
    """FFmpeg cannot open the file as a video (frames.py turns it into a MediaError naming the file)."""


@dataclass(frozen=True)
class VideoHeader:
    """What the container says, read as OpenCV (the pipeline's decoder before) read it, so the same frames are
    chosen: the stream's nb_frames, else its duration times the rate, rounded; the rate is FFmpeg's guess. The
    count can over-report (truncated files): decoding then ends early. 0 stands for unknown."""

    frame_count: int
    fps: float
    width: int
    height: int


def read_header(path: Path) -> VideoHeader:
    """The first video stream's header; no frame is decoded. VideoOpenError when FFmpeg cannot open it."""
    with open_video(path) as container:
        stream = container.streams.video[0]
        fps = float(stream.guessed_rate) if stream.guessed_rate else 0.0
        count = stream.frames
        if not count:
            seconds = container.duration / av.time_base if container.duration else 0.0
            if seconds <= 0 and stream.duration and stream.time_base:
                seconds = float(stream.duration * stream.time_base)
            count = math.floor(seconds * fps + 0.5)
        return VideoHeader(int(count), fps, stream.codec_context.width, stream.codec_context.height)


def open_video(path: Path) -> av.container.InputContainer:
    try:
        container = av.open(str(path))
    except (av.FFmpegError, UnicodeDecodeError) as err:
        raise VideoOpenError(str(err)) from None
    if not container.streams.video:
        container.close()
        raise VideoOpenError("no video stream")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"  # frame and slice threads: FFmpeg's decoders give the same pixels either way
    return container


def decode_chosen(path: Path, wanted: Sequence[int]) -> list[tuple[int, np.ndarray]]:
    """(index, RGB uint8 frame) for each index of `wanted` that the video has, in order. Decoding ends at the
    first packet FFmpeg cannot read, as a truncated file ends."""
    ranks = _display_ranks(path)
    if ranks is not None:
        try:
            return _decode(path, set(wanted), ranks)
        except _RanksDisagree:
            pass  # a stream the packets misdescribe (e.g. fields in separate packets): decode it whole
    return _decode(path, set(wanted), None)


class _RanksDisagree(Exception):
    """A decoded frame's pts is not one of the packets': display indices cannot come from the packets."""


def _decode(path: Path, wanted: set[int], ranks: dict[int, tuple[int, bool]] | None) -> list[tuple[int, np.ndarray]]:
    """`ranks` (pts -> display index, referenced): skip unwanted unreferenced packets; None: count frames as
    they come out and decode every packet."""
    skip = set() if ranks is None else {pts for pts, (rank, ref) in ranks.items() if not ref and rank not in wanted}
    out: list[tuple[int, np.ndarray]] = []
    with open_video(path) as container:
        stream = container.streams.video[0]
        for counted, frame in enumerate(_frames(container, stream, skip)):
            if ranks is not None and frame.pts not in ranks:
                raise _RanksDisagree
            index = counted if ranks is None else ranks[frame.pts][0]
            if index in wanted:
                out.append((index, frame.to_ndarray(format="rgb24")))
                wanted.discard(index)
                if not wanted:
                    break
    return out


def _frames(container: av.container.InputContainer, stream, skip: set[int]) -> Iterator[av.VideoFrame]:
    """The stream's frames in display order, the packets whose pts is in `skip` left undecoded."""
    try:
        for packet in container.demux(stream):
            if packet.pts is not None and packet.pts in skip:
                continue
            yield from stream.codec_context.decode(packet if packet.size else None)
    except av.FFmpegError:
        return


def _display_ranks(path: Path) -> dict[int, tuple[int, bool]] | None:
    """For length-prefixed H.264 with one picture and a distinct pts per packet, each shown: each packet's pts
    -> (its frame's display index, whether other frames may refer to it). None for anything else (decoded
    whole, frames counted as they come out)."""
    with open_video(path) as container:
        stream = container.streams.video[0]
        extradata = stream.codec_context.extradata or b""
        if stream.codec_context.name != "h264" or len(extradata) < 5 or extradata[0] != AVCC_VERSION:
            return None
        length_size = (extradata[4] & 3) + 1
        refs: dict[int, bool] = {}
        try:
            for packet in container.demux(stream):
                if not packet.size:
                    continue
                referenced = _referenced(memoryview(packet), length_size)
                if packet.pts is None or packet.pts in refs or referenced is None or packet.is_discard:
                    return None  # (discarded packets, e.g. before an MP4 edit list's start, are never shown)
                refs[packet.pts] = referenced or packet.is_keyframe
        except av.FFmpegError:
            pass  # a truncated file: the packets read so far
    return {pts: (rank, refs[pts]) for rank, pts in enumerate(sorted(refs))}


def _referenced(data: memoryview, length_size: int) -> bool | None:
    """Whether the packet's coded slices may be referred to (nal_ref_idc > 0); None when the packet does not
    parse as length-prefixed NAL units or holds no slice."""
    at, slices, referenced = 0, 0, False
    while at + length_size < len(data):
        size = int.from_bytes(data[at : at + length_size], "big")
        if size == 0:
            return None
        header = data[at + length_size]
        if header & 0x1F in H264_SLICES:
            slices += 1
            referenced |= bool(header >> 5 & 3)
        at += length_size + size
    return referenced if at == len(data) and slices else None
