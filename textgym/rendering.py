"""``render_mode="rgb_array"``: one episode drawn as an image, each generated token coloured by its reward.

The frame is an ``(H, W, 3)`` ``uint8`` array of a fixed size (:data:`FRAME_SHAPE`, whatever
the texts), as video recorders need: the prompt on top, then the continuation token by
token, each on a background of a diverging colour map (green for a positive instant reward,
red for a negative one, white for 0, full colour at the largest ``|reward|`` of the episode
so far), then the step, the score and the colour scale. Text that does not fit is cut: the
start of the prompt and the first lines of the continuation give way (``…``), so the newest
tokens stay in view.

Drawn with Pillow (a core dependency) in DejaVu Sans Mono: matplotlib's copy where matplotlib is
installed, else the system's, else Pillow's own font; a few milliseconds a frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

#: ``(height, width, channels)`` of every frame; both sides multiples of 16, as video encoders like
FRAME_SHAPE = (384, 768, 3)
FONT_SIZE = 15
MARGIN = 12
LINE_HEIGHT = 21
#: lines of prompt text at most (its start gives way first)
PROMPT_LINES = 4

WHITE = np.array([255, 255, 255], dtype=np.float64)
GREEN = np.array([26, 152, 80], dtype=np.float64)
RED = np.array([215, 48, 39], dtype=np.float64)
INK = (20, 20, 20)
MUTED = (110, 110, 110)
BACKGROUND = (250, 250, 250)


def _font_path() -> str:
    """DejaVu Sans Mono: the file matplotlib ships where it is installed (``textgym[bench]``), else its name.

    Pillow looks a bare file name up in the system's font folders (most Linux systems have DejaVu).
    """
    try:
        from matplotlib import font_manager
    except ImportError:  # the core install: no matplotlib
        return "DejaVuSansMono.ttf"
    return font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans Mono"), fallback_to_default=True)


@lru_cache(maxsize=1)
def _font() -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.truetype(_font_path(), FONT_SIZE, layout_engine=ImageFont.Layout.BASIC)
    except OSError:  # no such font on this system, or no FreeType: Pillow's own font
        try:
            return ImageFont.load_default(size=FONT_SIZE)  # a scalable one (Pillow >= 10.1, with FreeType)
        except (TypeError, OSError, ImportError):
            return ImageFont.load_default()


def _text_width(font: Any, text: str) -> float:
    return float(font.getlength(text)) if text else 0.0


def reward_colours(rewards: np.ndarray, scale: float) -> np.ndarray:
    """``(n, 3)`` uint8 colours of ``rewards`` on the red-white-green map, full colour at ``|r| = scale``."""
    t = np.clip(np.asarray(rewards, dtype=np.float64) / scale, -1.0, 1.0)[:, None]
    ends = np.where(t >= 0, GREEN, RED)
    return np.rint(WHITE + np.abs(t) * (ends - WHITE)).astype(np.uint8)


def readable(piece: str) -> str:
    """A token's text as it can be drawn: line breaks and tabs as visible marks, an empty piece as ``·``."""
    piece = piece.replace("\r\n", "↵").replace("\n", "↵").replace("\r", "↵").replace("\t", "→")
    return piece if piece else "·"


def _wrap(font: Any, text: str, width: float) -> list[str]:
    """``text`` cut into lines of at most ``width`` pixels (at characters: monospace, so cheap)."""
    char = max(_text_width(font, "M"), 1.0)
    per_line = max(int(width // char), 1)
    lines = []
    for paragraph in text.split("\n"):
        lines.extend(paragraph[i : i + per_line] for i in range(0, max(len(paragraph), 1), per_line))
    return lines


def render_frame(
    prompt: str | None,
    tokens: Sequence[str],
    rewards: Sequence[float] | np.ndarray,
    score: float,
    num_generated: int,
    max_new_tokens: int,
    status: str,
    title: str = "",
) -> np.ndarray:
    """The frame of one episode: ``prompt``, the generated ``tokens`` coloured by their ``rewards``, the ``score``.

    Args:
        prompt: the prompt text (``None``: no episode yet, a frame that says so).
        tokens: the generated tokens' texts (one string per token; line breaks are drawn as ``↵``).
        rewards: the instant reward of each generated token.
        score: the task's score of the continuation so far.
        num_generated, max_new_tokens: the step and the horizon.
        status: a word on the episode (``"running"``, ``"done"``).
        title: a header line (the task's name, say).

    Returns:
        an ``(H, W, 3)`` uint8 array of shape :data:`FRAME_SHAPE`.
    """
    from PIL import Image, ImageDraw

    height, width, _ = FRAME_SHAPE
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    font = _font()
    inner = width - 2 * MARGIN
    y = MARGIN
    if title:
        draw.text((MARGIN, y), title, fill=MUTED, font=font)
        y += LINE_HEIGHT
    if prompt is None:
        draw.text((MARGIN, y), "(no episode: call reset())", fill=INK, font=font)
        return np.asarray(image, dtype=np.uint8)

    # the prompt: its last PROMPT_LINES lines (the end leads into the continuation)
    draw.text((MARGIN, y), "prompt:", fill=MUTED, font=font)
    y += LINE_HEIGHT
    lines = _wrap(font, prompt.replace("\t", " "), inner)
    if len(lines) > PROMPT_LINES:
        lines = ["…" + lines[-PROMPT_LINES][1:]] + lines[-PROMPT_LINES + 1 :]
    for line in lines:
        draw.text((MARGIN, y), line, fill=INK, font=font)
        y += LINE_HEIGHT
    y += LINE_HEIGHT // 2
    draw.text((MARGIN, y), "continuation:", fill=MUTED, font=font)
    y += LINE_HEIGHT

    # the continuation: token boxes laid out in lines; the first lines give way when they do not fit
    footer_top = height - MARGIN - 2 * LINE_HEIGHT
    room = max((footer_top - y) // LINE_HEIGHT, 1)
    given = np.asarray(rewards, dtype=np.float64)[: len(tokens)]
    rewards = np.zeros(len(tokens))
    rewards[: len(given)] = given
    scale = float(np.abs(rewards).max()) if len(rewards) else 0.0
    scale = scale if scale > 0 else 1.0
    colours = reward_colours(rewards, scale)
    rows: list[list[tuple[str, float, float]]] = [[]]  # per line: (text, x, box width)
    x = 0.0
    for text in map(readable, tokens):
        box = _text_width(font, text) + 2
        if box > inner:  # a token longer than a line: its start, cut
            text = _wrap(font, text, inner - 2 * _text_width(font, "…"))[0] + "…"
            box = _text_width(font, text) + 2
        if x + box > inner and rows[-1]:
            rows.append([])
            x = 0.0
        rows[-1].append((text, x, box))
        x += box + 2
    first = max(len(rows) - room, 0)
    index = sum(len(row) for row in rows[:first])
    if first:
        draw.text((MARGIN, y - LINE_HEIGHT), " " * 14 + f"… ({index} earlier tokens)", fill=MUTED, font=font)
    for row in rows[first:]:
        for text, left, box in row:
            fill = tuple(int(c) for c in colours[index])
            x0 = MARGIN + left
            draw.rectangle((x0, y, x0 + box, y + LINE_HEIGHT - 3), fill=fill)
            dark = float(np.abs(rewards[index]) / scale) > 0.6
            draw.text((x0 + 1, y + 1), text, fill=(255, 255, 255) if dark else INK, font=font)
            index += 1
        y += LINE_HEIGHT

    # footer: step, score, last reward, and the colour scale
    last = f"  reward {rewards[-1]:+.4f}" if len(rewards) else ""
    draw.text(
        (MARGIN, footer_top + LINE_HEIGHT),
        f"step {num_generated}/{max_new_tokens}  score {score:+.4f}{last}  ({status})",
        fill=INK,
        font=font,
    )
    bar_width = 160
    low, high = f"-{scale:.3g}", f"+{scale:.3g}"
    bar_left = int(width - MARGIN - _text_width(font, high) - 6 - bar_width)
    draw.text((bar_left - _text_width(font, low) - 6, footer_top), low, fill=MUTED, font=font)
    draw.text((bar_left + bar_width + 6, footer_top), high, fill=MUTED, font=font)
    draw.text((MARGIN, footer_top), "colour: instant reward", fill=MUTED, font=font)
    frame = np.array(image, dtype=np.uint8)
    bar = reward_colours(np.linspace(-scale, scale, bar_width), scale)
    frame[footer_top + 4 : footer_top + LINE_HEIGHT - 4, bar_left : bar_left + bar_width] = bar[None]
    return frame
