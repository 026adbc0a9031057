"""From prompt words to a :class:`Look`: palette, lighting, mood and scene features.

Words are matched whole and lower-cased. Colour words and themes ("sunset",
"forest", ...) give colours; mood words move brightness, contrast, saturation,
warmth and haze; feature words switch scene elements on. The negative prompt
(and "no X" / "without X" in the prompt) removes colours by hue and switches
features off.
"""

from __future__ import annotations

import colorsys
import itertools
import re
from dataclasses import dataclass, field

import numpy as np

RGB = tuple[float, float, float]


def hex_to_rgb(value: str) -> RGB:
    value = value.lstrip("#")
    return (int(value[0:2], 16) / 255, int(value[2:4], 16) / 255, int(value[4:6], 16) / 255)


def rgb_to_hex(rgb: RGB) -> str:
    return "#" + "".join(f"{round(min(max(c, 0.0), 1.0) * 255):02x}" for c in rgb)


COLOURS: dict[str, str] = {
    "red": "#c8312b", "crimson": "#a3142b", "scarlet": "#e0301e", "maroon": "#6b1a1f", "burgundy": "#7a1f3d",
    "ruby": "#b0102f", "cherry": "#c21f3a", "orange": "#ee7a22", "tangerine": "#f28c28", "amber": "#f0a020",
    "yellow": "#f2d03b", "lemon": "#f5e050", "gold": "#d9a441", "golden": "#d9a441", "mustard": "#c9a227",
    "green": "#3f9b4a", "emerald": "#1f8f5f", "jade": "#3a9d7a", "lime": "#9acd32", "olive": "#7a7d32",
    "mint": "#98e0c0", "sage": "#9cae8c", "teal": "#1f8a8a", "turquoise": "#30c5c0", "cyan": "#2ad4e6",
    "aqua": "#5fe0e0", "blue": "#2f63c8", "azure": "#3d8fe0", "navy": "#1b2a5c",
    "cobalt": "#2348a8", "sapphire": "#1e3f9e", "indigo": "#3b2f8f", "purple": "#7b3fa8", "violet": "#8b55d6",
    "lavender": "#b9a6e0", "lilac": "#c8a2d8", "plum": "#7a3b6e", "magenta": "#d6339c", "fuchsia": "#e0409e",
    "pink": "#f08cb4", "rose": "#e05a80", "coral": "#f27d6b", "peach": "#f6b58e", "salmon": "#f08a78",
    "brown": "#7a5232", "chocolate": "#5a3420", "bronze": "#a8703a", "copper": "#b86b3a", "rust": "#a4461f",
    "tan": "#c8a27a", "beige": "#d8c3a0", "cream": "#f1e6cc", "ivory": "#f5f0dc", "silver": "#b8bec6",
    "grey": "#8a8f96", "gray": "#8a8f96", "charcoal": "#36393e", "black": "#141416", "white": "#f4f4f2",
}  # fmt: skip


@dataclass(frozen=True)
class Theme:
    colours: tuple[str, ...] = ()
    # Which part of the picture the colours paint: "sky", "land" or "all".
    role: str = "all"
    features: frozenset[str] = frozenset()
    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0
    warmth: float = 0.0
    haze: float = 0.0


def _t(colours: str = "", features: str = "", role: str = "all", **mood: float) -> Theme:
    return Theme(tuple(colours.split()), role, frozenset(features.split()), **mood)


# Colours are listed most characteristic first: a theme sharing the palette with others gets its first ones in.
_THEMES: dict[tuple[str, ...], Theme] = {
    ("sunset",): _t("#f28a3c #d9475a #6a2f6a #fbd26a", "sun low", "sky", warmth=0.5),
    ("sunrise", "dawn"): _t("#f0a0a0 #ffd59a #6a7aa8 #fff1cf", "sun low", "sky", warmth=0.3, brightness=0.1),
    ("dusk", "twilight", "evening"): _t("#5a3d7a #c46a8a #1e2350 #f0a878", "moon low", "sky", brightness=-0.15),
    ("night", "midnight", "nocturnal", "moonlit"): _t(
        "#0b1026 #1c2a5a #3a4f8a #e8e4c8", "moon stars", "sky", brightness=-0.45
    ),
    ("space", "galaxy", "cosmic", "nebula", "universe"): _t(
        "#2a1050 #070818 #6a2fa0 #e05ad0", "stars", "sky", brightness=-0.4
    ),
    ("storm", "stormy", "thunder", "rain", "rainy", "thunderstorm"): _t(
        "#4a5660 #2a3038 #7a8890 #c0c8cc", "clouds rain", "sky", saturation=-0.3, brightness=-0.2, contrast=0.15
    ),
    ("fog", "foggy", "mist", "misty", "haze", "hazy"): _t(
        "#c8ccd0 #9aa4ac #6a747c", "", "sky", saturation=-0.3, haze=0.6
    ),
    ("ocean", "sea", "seascape", "coast", "lake", "river", "bay"): _t(
        "#1f7a9e #0d3b66 #5fc4d0 #b8e4ea", "water", "land"
    ),
    ("beach", "shore", "island", "tropical"): _t(
        "#00a0b0 #f0e0b0 #4fd0d0 #ff9f6b", "water sun", "land", brightness=0.15
    ),
    ("forest", "woods", "woodland", "jungle", "pine", "pines"): _t("#2f6b3a #1e3d2a #6aa84f #c9d98a", "trees", "land"),
    ("autumn", "fall", "autumnal", "harvest"): _t("#c2561e #e8a03a #7a2e12 #f2d27a", "trees", "land", warmth=0.35),
    ("winter", "snow", "snowy", "ice", "icy", "frozen", "arctic", "glacier"): _t(
        "#e8f0f8 #7a96b8 #b8cce0 #3a5070", "snow mountains", "all", warmth=-0.45, brightness=0.1
    ),
    ("desert", "dune", "dunes", "sand", "sahara", "savanna"): _t(
        "#e0a860 #f0d8a0 #c07840", "dunes sun", "land", warmth=0.3
    ),
    ("spring", "blossom", "meadow", "garden"): _t("#6fbf5a #f8c8d8 #b8e08a", "flowers", "land", brightness=0.15),
    ("summer",): _t("#3aa0e0 #f8d860 #4a9a40 #8fd0f0", "sun", "all", brightness=0.2, saturation=0.15),
    ("underwater", "reef", "aquatic"): _t("#0a5a7a #03203a #1aa0b0 #80e0d0", "", "all", brightness=-0.1),
    ("neon", "synthwave", "vaporwave"): _t(
        "#ff2bd6 #2bf0ff #0a0a1e #7a2bff", "city", "all", saturation=0.4, brightness=-0.2
    ),
    ("pastel", "candy"): _t(
        "#f7c8d8 #c8e0f7 #d8f0c8 #f7ecc0 #e0d0f0", "", "all", saturation=-0.35, brightness=0.25, contrast=-0.2
    ),
    ("fire", "lava", "volcano", "volcanic", "inferno", "flames"): _t(
        "#e8501a #8a1a0a #ffc040 #1a0a08", "", "all", warmth=0.6
    ),
    ("retro", "vintage", "sepia", "nostalgic"): _t("#a67b4f #704214 #e0c9a6 #4a2c14", "", "all", saturation=-0.35),
    ("noir", "monochrome", "grayscale", "greyscale"): _t("#555555 #aaaaaa #111111 #eeeeee", "", "all", saturation=-1.0),
    ("rainbow", "colorful", "colourful"): _t(
        "#e0402a #f2d03b #2f63c8 #3f9b4a #f09a2a #7b3fa8", "", "all", saturation=0.3
    ),
    ("city", "urban", "skyline", "metropolis", "downtown", "buildings", "skyscrapers"): _t(features="city"),
    ("mountain", "mountains", "alpine", "peaks", "peak", "cliffs"): _t(features="mountains tall"),
    ("tree", "trees"): _t(features="trees"),
    ("cloud", "clouds", "cloudy", "overcast"): _t(features="clouds"),
    ("sun", "sunny", "sunlight", "sunshine"): _t(features="sun", brightness=0.1),
    ("moon",): _t(features="moon"),
    ("star", "stars", "starry", "starlight"): _t(features="stars", brightness=-0.2),
    ("bird", "birds", "flock"): _t(features="birds"),
    ("flower", "flowers", "floral"): _t(features="flowers"),
    ("water", "waves", "pond"): _t(features="water"),
    ("hill", "hills", "valley", "countryside"): _t(features="hills"),
}
_MOODS: dict[tuple[str, ...], Theme] = {
    ("calm", "serene", "peaceful", "tranquil", "quiet", "gentle", "still"): _t(contrast=-0.15, saturation=-0.1),
    ("dark", "gloomy", "moody", "grim", "sinister", "ominous", "bleak"): _t(brightness=-0.35, contrast=0.1),
    ("bright", "cheerful", "happy", "joyful", "radiant", "luminous", "light"): _t(brightness=0.25, saturation=0.1),
    ("dramatic", "epic", "intense", "majestic", "powerful"): _t(contrast=0.3),
    ("warm", "cozy", "cosy", "hot"): _t(warmth=0.4),
    ("cold", "cool", "chilly", "wintry"): _t(warmth=-0.4),
    ("mysterious", "mystic", "mystical", "eerie", "haunted"): _t(haze=0.3, brightness=-0.15),
    ("dreamy", "ethereal", "soft", "magical", "whimsical", "fairytale"): _t(haze=0.25, contrast=-0.15),
    ("vibrant", "vivid", "saturated", "bold"): _t(saturation=0.35),
    ("muted", "faded", "dull", "washed", "desaturated", "subtle", "dusty"): _t(saturation=-0.35),
}
THEMES = {word: theme for words, theme in _THEMES.items() for word in words}
MOODS = {word: theme for words, theme in _MOODS.items() for word in words}
# Words that name a feature in a negative prompt ("no trees", negative "birds").
FEATURE_WORDS = {word: theme.features for word, theme in THEMES.items() if theme.features}

NEUTRALS = frozenset({"black", "white", "grey", "gray", "silver", "charcoal", "ivory", "cream"})
NEON = ("#ff2bd6", "#21e6ff")
LINE_INK, LINE_PAPER = "#161616", "#fbfaf6"
_WORD = re.compile(r"[a-z]+")


@dataclass
class Look:
    """Everything the scene and the style need to know about the prompt."""

    sky: list[RGB]  # top, middle, horizon
    land: list[RGB]  # far, middle, near
    accent: RGB  # the most saturated colour: sun glow, lit windows, flowers
    features: frozenset[str]
    night: bool
    brightness: float = 0.0  # -1..1
    contrast: float = 0.0  # -1..1
    saturation: float = 0.0  # -1..1
    warmth: float = 0.0  # -1 (cold) .. 1 (warm)
    haze: float = 0.0  # 0..1
    roughness: float = 0.5  # 0 smooth hills .. 1 jagged peaks
    excluded_hues: list[tuple[float, float]] = field(default_factory=list)
    neon: list[RGB] = field(default_factory=list)

    @property
    def palette(self) -> list[RGB]:
        """All six colours, dark to light."""
        return sorted(self.sky + self.land, key=_luma)

    def keep_out(self, rgb: RGB) -> RGB:
        """``rgb`` with its hue moved out of the negative prompt's colours."""
        return exclude_hues(rgb, self.excluded_hues)

    def hex_palette(self) -> list[str]:
        return [rgb_to_hex(c) for c in self.palette]


def _luma(c: RGB) -> float:
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _hue(rgb: RGB) -> tuple[float, float, float]:
    h, light, s = colorsys.rgb_to_hls(*rgb)
    return h * 360, light, s


def _hls(h: float, light: float, s: float) -> RGB:
    return colorsys.hls_to_rgb((h % 360) / 360, min(max(light, 0.0), 1.0), min(max(s, 0.0), 1.0))


def _hue_distance(a: float, b: float) -> float:
    d = abs(a - b) % 360
    return min(d, 360 - d)


def exclude_hues(rgb: RGB, ranges: list[tuple[float, float]]) -> RGB:
    """Rotate a colour's hue to just outside every excluded (centre, half-width) range."""
    h, light, s = _hue(rgb)
    if s < 0.12 or not ranges:
        return rgb
    for _ in range(4):  # ranges may touch; a few passes settle it
        hit = next(((c, w) for c, w in ranges if _hue_distance(h, c) < w), None)
        if hit is None:
            break
        centre, width = hit
        side = 1 if ((h - centre) % 360) < 180 else -1
        h = centre + side * (width + 4)
    return _hls(h, light, s)


def build_look(prompt: str, negative_prompt: str, style: str, rng: np.random.Generator) -> Look:
    """Read the prompt's colour, theme, mood and feature words into a Look."""
    tokens = words(prompt)
    negated = set(words(negative_prompt))
    # "no clouds", "without trees" in the prompt itself count as negative.
    negated |= {b for a, b in itertools.pairwise(tokens) if a in ("no", "without", "not")}
    tokens = [w for w in tokens if w not in negated]
    # Each negated colour word keeps a 70-degree wedge of hue out of the image.
    excluded = [(_hue(hex_to_rgb(COLOURS[w]))[0], 35.0) for w in sorted(negated) if w in COLOURS and w not in NEUTRALS]

    named: list[RGB] = []
    by_role: dict[str, list[list[RGB]]] = {"sky": [], "land": [], "all": []}
    features: set[str] = set()
    mood = dict.fromkeys(("brightness", "contrast", "saturation", "warmth", "haze"), 0.0)
    for i, word in enumerate(tokens):
        if word in COLOURS:
            named.append(_modified(hex_to_rgb(COLOURS[word]), tokens[i - 1] if i else ""))
        for table in (THEMES, MOODS):
            theme = table.get(word)
            if theme is None:
                continue
            if theme.colours:
                by_role[theme.role].append([hex_to_rgb(c) for c in theme.colours])
            features |= theme.features
            for key in mood:
                mood[key] += getattr(theme, key)
    for word in negated:  # a negated mood pushes the other way, gently
        if theme := MOODS.get(word):
            for key in mood:
                mood[key] -= 0.5 * getattr(theme, key)
    removed = set().union(*(FEATURE_WORDS.get(w, frozenset()) for w in negated)) - {"low", "tall"}

    if style == "cyberpunk":
        features |= {"city", "grid"}
        mood["brightness"] -= 0.35
        mood["saturation"] += 0.2
    night = bool(features & {"moon", "stars"}) or mood["brightness"] < -0.4 or style == "cyberpunk"
    _default_features(features, night, mood, tokens, rng)
    features -= removed | ({"some-trees"} if "trees" in removed else set())

    sky, land = _sky_and_land(named, by_role, excluded, rng)
    sky = [exclude_hues(_apply_mood(c, mood), excluded) for c in sky]
    land = [exclude_hues(_apply_mood(c, mood), excluded) for c in land]
    sky, land = (_neutral_limits(group, negated) for group in (sky, land))
    sky.sort(key=_luma)  # dark zenith, light horizon
    land.sort(key=_luma, reverse=True)  # hazy far hills, dark foreground
    everything = sky + land
    accent = max(everything, key=lambda c: _hue(c)[2] * (1 - abs(_hue(c)[1] - 0.55)))

    neon = [exclude_hues(hex_to_rgb(c), excluded) for c in NEON]
    if style == "cyberpunk" and named:
        # The prompt's own colours become the neon, brightened.
        vivid = sorted(named, key=lambda c: -_hue(c)[2])[:2]
        neon = [exclude_hues(_hls(h, 0.6, max(s, 0.85)), excluded) for h, _, s in map(_hue, vivid)]
    roughness = float(np.clip(0.5 + mood["contrast"] * 0.8 - (0.25 if "hills" in features else 0), 0.1, 1.0))
    return Look(
        sky=sky,
        land=land,
        accent=accent,
        features=frozenset(features),
        night=night,
        roughness=roughness,
        excluded_hues=excluded,
        neon=neon,
        brightness=float(np.clip(mood["brightness"], -1, 1)),
        contrast=float(np.clip(mood["contrast"], -1, 1)),
        saturation=float(np.clip(mood["saturation"], -1, 1)),
        warmth=float(np.clip(mood["warmth"], -1, 1)),
        haze=float(np.clip(mood["haze"], 0, 1)),
    )


def _modified(rgb: RGB, previous: str) -> RGB:
    """ "light blue", "deep red": a modifier word before a colour changes its lightness."""
    h, light, s = _hue(rgb)
    if previous in ("light", "pale", "soft"):
        return _hls(h, light + (1 - light) * 0.45, s * 0.8)
    if previous in ("dark", "deep"):
        return _hls(h, light * 0.55, s)
    return rgb


def _default_features(features: set[str], night: bool, mood: dict[str, float], tokens: list[str], rng) -> None:
    """What the prompt did not ask for, the seed picks: terrain, clouds, sun, birds, a few trees."""
    if not features & {"mountains", "hills", "dunes", "water", "city"}:
        features.add("mountains" if rng.random() < 0.6 else "hills")
    if "clouds" not in features and rng.random() < 0.7:
        features.add("clouds")
    if night:
        features |= {"moon", "stars"}
        features.discard("sun")
    elif "sun" not in features and rng.random() < 0.75:
        features.add("sun")
    if rng.random() < 0.45 and mood["contrast"] >= 0:
        features.add("birds")
    if "trees" not in features and rng.random() < 0.5:
        features.add("some-trees")


def _sky_and_land(named, by_role, excluded, rng) -> tuple[list[RGB], list[RGB]]:
    """Three sky and three land colours.

    Named colours come first in both, then themes for that part of the
    picture, taken in turns so two themes share it. With no colour at all the
    seed picks a base hue and an analogous scheme; with only land colours the
    sky is a seeded daylight blue; with only sky colours the land is a dark
    shade of the sky.
    """
    sky_src = named + _interleave(by_role["all"] + by_role["sky"])
    # Named colours paint the land a shade darker than the sky, so the two stay apart.
    land_src = [_hls(h, light * 0.72, s) for h, light, s in map(_hue, named)]
    land_src += _interleave(by_role["all"] + by_role["land"])
    if not sky_src and not land_src:
        base = float(rng.uniform(0, 360))
        for _ in range(12):
            if all(_hue_distance(base, c) >= w for c, w in excluded):
                break
            base = float(rng.uniform(0, 360))
        scheme = [(0, 0.16, 0.45), (-25, 0.32, 0.5), (20, 0.5, 0.45), (-10, 0.68, 0.4), (30, 0.86, 0.35)]
        colours = [_hls(base + dh, light, s * float(rng.uniform(0.8, 1.2))) for dh, light, s in scheme]
        colours.append(_hls(base + 180 + float(rng.uniform(-30, 30)), 0.62, 0.65))
        colours = [exclude_hues(c, excluded) for c in colours]
        colours.sort(key=_luma)
        return [colours[5], colours[4], colours[3]], colours[:3]
    if not sky_src:
        hue = float(rng.uniform(195, 220))
        sky_src = [_hls(hue, 0.45, 0.5), _hls(hue - 5, 0.66, 0.55), _hls(hue - 15, 0.86, 0.45)]
    if not land_src:
        land_src = [
            _hls(h, light * k, s * 0.8)
            for (h, light, s), k in zip(map(_hue, sky_src[:3]), (0.5, 0.35, 0.22), strict=False)
        ]
    return _three(sky_src, excluded, rng), _three(land_src, excluded, rng)


def _interleave(groups: list[list[RGB]]) -> list[RGB]:
    out = []
    for i in range(max((len(g) for g in groups), default=0)):
        out.extend(g[i] for g in groups if i < len(g))
    return out


def _three(colours: list[RGB], excluded, rng) -> list[RGB]:
    """The first three distinct colours, padded with lighter and darker shades of them."""
    picked: list[RGB] = []
    for c in colours:
        if all(sum(abs(a - b) for a, b in zip(c, u, strict=True)) > 0.08 for u in picked):
            picked.append(exclude_hues(c, excluded))
        if len(picked) == 3:
            return picked
    seeds = list(picked)
    for dl in (0.28, -0.22):
        if len(picked) == 3:
            break
        h, light, s = _hue(seeds[len(picked) % len(seeds)])
        dh = float(rng.uniform(-15, 15))
        picked.append(exclude_hues(_hls(h + dh, light + dl, s * float(rng.uniform(0.85, 1.05))), excluded))
    return picked


def _neutral_limits(colours: list[RGB], negated: set[str]) -> list[RGB]:
    """Negated neutrals: no near-black, no near-white, no greys."""
    out = []
    for h, light, s in map(_hue, colours):
        if "black" in negated:
            light = max(light, 0.22)
        if "white" in negated:
            light = min(light, 0.82)
        if negated & {"grey", "gray"}:
            s = max(s, 0.3)
        out.append(_hls(h, light, s))
    return out


def _apply_mood(rgb: RGB, mood: dict[str, float]) -> RGB:
    h, light, s = _hue(rgb)
    b = float(np.clip(mood["brightness"], -1, 1))
    light = light + (1 - light) * b * 0.5 if b > 0 else light * (1 + b * 0.55)
    s *= 1 + float(np.clip(mood["saturation"], -1, 1)) * 0.6
    warmth = float(np.clip(mood["warmth"], -1, 1))
    if s > 0.08 and warmth:
        target = 35.0 if warmth > 0 else 215.0  # orange / blue
        delta = ((target - h + 180) % 360) - 180
        h += delta * min(abs(warmth), 1.0) * 0.18
    return _hls(h, light, s)
