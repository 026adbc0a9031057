"""Forms of the gallery pages: create, upload, edit an image, filter the gallery.

They shape browser input; the rules are the services': a generation request is
resolved by ``images.services.resolver`` (``GenerationForm.request_fields``
gives it the form's values), uploads and edits by the other services.
Choices come from the same constants the API checks against.
"""

from __future__ import annotations

from django import forms

from images import params
from images.models import Image
from images.styles import STYLES

DIMENSIONS_SIZE = "size"
DIMENSIONS_ASPECT = "aspect"


def _size_label(size: str) -> str:
    width, height = size.split("x")
    return f"{width} \N{MULTIPLICATION SIGN} {height}"


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageField(forms.FileField):
    """One or more files from one ``<input type=file multiple>``; the upload service checks their content."""

    widget = MultipleFileInput

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*"}))
        super().__init__(*args, **kwargs)

    def clean(self, data: object, initial: object = None) -> list:
        files = data if isinstance(data, list | tuple) else [data] if data else []
        if self.required and not files:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        return [super(MultipleImageField, self).clean(file, initial) for file in files]


class GenerationForm(forms.Form):
    prompt = forms.CharField(
        max_length=params.MAX_PROMPT,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "A lighthouse on a cliff in a storm, at dusk"}),
    )
    negative_prompt = forms.CharField(
        max_length=params.MAX_PROMPT,
        required=False,
        label="Negative prompt",
        help_text="What the image should not show.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    style = forms.ChoiceField(required=False, choices=[("", "No style"), *((s.name, s.label) for s in STYLES.values())])
    dimensions = forms.ChoiceField(
        choices=[(DIMENSIONS_SIZE, "Exact size"), (DIMENSIONS_ASPECT, "Aspect ratio and resolution")],
        initial=DIMENSIONS_SIZE,
        widget=forms.RadioSelect,
        label="Dimensions",
    )
    size = forms.ChoiceField(
        required=False, choices=[(s, _size_label(s)) for s in params.SIZES], initial=params.DEFAULT_SIZE
    )
    aspect_ratio = forms.ChoiceField(
        required=False, label="Aspect ratio", choices=[(r, r) for r in params.ASPECT_RATIOS], initial="1:1"
    )
    resolution = forms.ChoiceField(
        required=False,
        choices=[(name, f"{name} (long side {pixels} px)") for name, pixels in params.RESOLUTIONS.items()],
        initial="1K",
    )
    n = forms.TypedChoiceField(
        coerce=int,
        choices=[(i, str(i)) for i in range(1, params.MAX_N + 1)],
        initial=1,
        label="Number of images",
    )
    seed = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=params.MAX_SEED,
        help_text="The same seed, prompt and settings give the same image. Empty: a random seed.",
    )
    provider = forms.ChoiceField(required=False)
    reference_file = forms.FileField(
        required=False,
        label="Upload a reference image",
        help_text="Stored in your gallery as an upload and used to guide the result.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/*"}),
    )
    reference_images = forms.MultipleChoiceField(
        required=False, label="Or pick reference images from your gallery", widget=forms.CheckboxSelectMultiple
    )
    strength = forms.FloatField(
        required=False,
        min_value=0.0,
        max_value=1.0,
        help_text="With references: 0 keeps close to them, 1 departs freely. Empty: the provider's default.",
        widget=forms.NumberInput(attrs={"step": "0.05"}),
    )

    def __init__(
        self,
        *args: object,
        reference_choices: list[Image] = (),
        providers: list[str] = (),
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.reference_choices = list(reference_choices)
        self.fields["reference_images"].choices = [(str(image.pk), str(image)) for image in self.reference_choices]
        self.fields["provider"].choices = [(name, name) for name in providers]
        self.show_provider = len(providers) > 1

    def request_fields(self, *, extra_reference_ids: list[str] = ()) -> dict:
        """The form's values as ``resolver.generation_params`` takes them."""
        data = self.cleaned_data
        payload: dict = {
            "prompt": data["prompt"],
            "negative_prompt": data.get("negative_prompt", ""),
            "style": data.get("style", ""),
            "n": data["n"],
            "reference_images": [*data.get("reference_images", []), *extra_reference_ids],
        }
        if data.get("provider"):
            payload["provider"] = data["provider"]
        if data.get("seed") is not None:
            payload["seed"] = data["seed"]
        if data.get("strength") is not None:
            payload["strength"] = data["strength"]
        if data.get("dimensions") == DIMENSIONS_ASPECT:
            payload["aspect_ratio"] = data.get("aspect_ratio") or "1:1"
            payload["resolution"] = data.get("resolution") or "1K"
        else:
            payload["size"] = data.get("size") or params.DEFAULT_SIZE
        return payload


def initial_from_generation(generation: object) -> dict:
    """The form's initial values that reproduce ``generation`` (the "remix" link)."""
    width, height = generation.width, generation.height
    initial: dict = {
        "prompt": generation.prompt,
        "negative_prompt": generation.negative_prompt,
        "style": generation.style,
        "n": generation.n,
        "seed": generation.seed,
        "provider": generation.provider,
        "reference_images": [str(pk) for pk in generation.reference_images],
        "strength": generation.strength,
    }
    size = f"{width}x{height}"
    if size in params.SIZES:
        return {**initial, "dimensions": DIMENSIONS_SIZE, "size": size}
    for ratio in params.ASPECT_RATIOS:
        for resolution in params.RESOLUTIONS:
            if params.size_for_aspect_ratio(ratio, resolution) == (width, height):
                return {**initial, "dimensions": DIMENSIONS_ASPECT, "aspect_ratio": ratio, "resolution": resolution}
    return initial


class UploadForm(forms.Form):
    files = MultipleImageField(label="Images", help_text="PNG, JPEG, WebP, GIF or AVIF; several at once if you like.")
    title = forms.CharField(max_length=200, required=False)
    category = forms.CharField(max_length=64, required=False)
    tags = forms.CharField(required=False, help_text="Comma-separated, e.g. “travel, 2026”.")
    visibility = forms.ChoiceField(choices=Image.Visibility.choices, initial=Image.Visibility.PRIVATE)


class ImageEditForm(forms.Form):
    title = forms.CharField(max_length=200, required=False)
    category = forms.CharField(max_length=64, required=False)
    tags = forms.CharField(required=False, help_text="Comma-separated.")
    visibility = forms.ChoiceField(
        choices=Image.Visibility.choices,
        help_text="Private: only you. Unlisted: anyone with the link. Public: also in the public gallery.",
    )


class GalleryFilterForm(forms.Form):
    """How the gallery's filters are shown; ``images.api.filters.ImageFilter`` validates and applies them."""

    q = forms.CharField(required=False, label="Search", widget=forms.TextInput(attrs={"type": "search"}))
    source = forms.ChoiceField(required=False, choices=[("", "Any source"), *Image.Source.choices])
    visibility = forms.ChoiceField(required=False, choices=[("", "Any visibility"), *Image.Visibility.choices])
    category = forms.CharField(required=False, widget=forms.TextInput(attrs={"list": "categories"}))
    tag = forms.CharField(required=False, label="Tags", widget=forms.TextInput(attrs={"placeholder": "a, b"}))
    favorite = forms.ChoiceField(
        required=False, label="Favorites", choices=[("", "All images"), ("true", "Favorites only")]
    )


class AlbumForm(forms.Form):
    """An album's title and description (``images.services.albums`` checks them again)."""

    title = forms.CharField(max_length=200)
    description = forms.CharField(max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3}))


SHARE_EXPIRY_CHOICES = [
    ("86400", "1 day"),
    ("604800", "7 days"),
    ("2592000", "30 days"),
    ("31536000", "1 year"),
    ("never", "Never"),
]


class ShareLinkForm(forms.Form):
    """A new share link's settings (``images.services.sharing.share_link_create`` checks them)."""

    expires_in = forms.ChoiceField(label="Expires after", choices=SHARE_EXPIRY_CHOICES, initial="2592000")
    password = forms.CharField(
        max_length=128,
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Viewers must type it to open the link.",
    )
    allow_download = forms.BooleanField(required=False, initial=True, label="Allow downloads (original and ZIP)")

    def expires_seconds(self) -> int | None:
        value = self.cleaned_data["expires_in"]
        return None if value == "never" else int(value)


class SharePasswordForm(forms.Form):
    password = forms.CharField(
        max_length=128, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
