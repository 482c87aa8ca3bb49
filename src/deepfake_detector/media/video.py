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
    with VideoFile(path) as video:
        return video.header


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


class VideoFile:
    """An open video: its header, and chosen frames decoded from one read of the file (its packets are read
    once, for the header's choice of frames, the display order and the decoder)."""

    def __init__(self, path: Path):
        self.path = path
        self._container = open_video(path)
        self._stream = self._container.streams.video[0]
        self.header = _header(self._container, self._stream)

    def __enter__(self) -> VideoFile:
        return self

    def __exit__(self, *_) -> None:
        self._container.close()

    def decode(self, wanted: Sequence[int]) -> list[tuple[int, np.ndarray]]:
        """(index, RGB uint8 frame) for each index of `wanted` that the video has, in order. Decoding ends at
        the first packet FFmpeg cannot read, as a truncated file ends."""
        packets = _packets(self._container, self._stream)
        ranks = _display_ranks(self._stream, packets)
        if ranks is not None:
            try:
                return _decode(self._stream, packets, set(wanted), ranks)
            except _RanksDisagree:  # a stream the packets misdescribe (e.g. fields in separate packets)
                with open_video(self.path) as fresh:  # decoded whole, by a decoder that has seen nothing yet
                    return _decode(fresh.streams.video[0], packets, set(wanted), None)
        return _decode(self._stream, packets, set(wanted), None)


def _header(container: av.container.InputContainer, stream) -> VideoHeader:
    fps = float(stream.guessed_rate) if stream.guessed_rate else 0.0
    count = stream.frames
    if not count:
        seconds = container.duration / av.time_base if container.duration else 0.0
        if seconds <= 0 and stream.duration and stream.time_base:
            seconds = float(stream.duration * stream.time_base)
        count = math.floor(seconds * fps + 0.5)
    return VideoHeader(int(count), fps, stream.codec_context.width, stream.codec_context.height)


def _packets(container: av.container.InputContainer, stream) -> list[av.Packet]:
    """The stream's packets in file order, up to the first one FFmpeg cannot read (a truncated file). A file
    read to its end ends with the empty packet that tells the decoder to give out the frames it holds."""
    packets: list[av.Packet] = []
    try:
        for packet in container.demux(stream):
            packets.append(packet)
    except av.FFmpegError:
        pass
    return packets


class _RanksDisagree(Exception):
    """A decoded frame's pts is not one of the packets': display indices cannot come from the packets."""


def _decode(
    stream, packets: list[av.Packet], wanted: set[int], ranks: dict[int, tuple[int, bool]] | None
) -> list[tuple[int, np.ndarray]]:
    """`ranks` (pts -> display index, referenced): skip unwanted unreferenced packets; None: count frames as
    they come out and decode every packet."""
    skip = set() if ranks is None else {pts for pts, (rank, ref) in ranks.items() if not ref and rank not in wanted}
    out: list[tuple[int, np.ndarray]] = []
    for counted, frame in enumerate(_frames(stream, packets, skip)):
        if ranks is not None and frame.pts not in ranks:
            raise _RanksDisagree
        index = counted if ranks is None else ranks[frame.pts][0]
        if index in wanted:
            out.append((index, frame.to_ndarray(format="rgb24")))
            wanted.discard(index)
            if not wanted:
                break
    return out


def _frames(stream, packets: list[av.Packet], skip: set[int]) -> Iterator[av.VideoFrame]:
    """The stream's frames in display order, the packets whose pts is in `skip` left undecoded."""
    try:
        for packet in packets:
            if packet.pts is not None and packet.pts in skip:
                continue
            yield from stream.codec_context.decode(packet if packet.size else None)
    except av.FFmpegError:
        return


def _display_ranks(stream, packets: list[av.Packet]) -> dict[int, tuple[int, bool]] | None:
    """For length-prefixed H.264 with one picture and a distinct pts per packet, each shown: each packet's pts
    -> (its frame's display index, whether other frames may refer to it). None for anything else (decoded
    whole, frames counted as they come out)."""
    extradata = stream.codec_context.extradata or b""
    if stream.codec_context.name != "h264" or len(extradata) < 5 or extradata[0] != AVCC_VERSION:
        return None
    length_size = (extradata[4] & 3) + 1
    refs: dict[int, bool] = {}
    for packet in packets:
        if not packet.size:
            continue
        referenced = _referenced(memoryview(packet), length_size)
        if packet.pts is None or packet.pts in refs or referenced is None or packet.is_discard:
            return None  # (discarded packets, e.g. before an MP4 edit list's start, are never shown)
        refs[packet.pts] = referenced or packet.is_keyframe
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
