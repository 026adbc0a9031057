from django.apps import AppConfig


class ImagesConfig(AppConfig):
    name = "images"
    verbose_name = "Images"

    def ready(self) -> None:
        from accounts.profile import add_profile_figures
        from images.services.usage import profile_figures

        add_profile_figures(profile_figures)
        check_moderation_policy()


def check_moderation_policy() -> None:
    """With ``MODERATION_PROVIDER=builtin``, a policy file that cannot be used stops the start, naming its line."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    if settings.MODERATION_PROVIDER != "builtin":
        return
    from images.moderation import get_moderator
    from images.moderation.policy import PolicyError

    try:
        get_moderator("builtin")
    except PolicyError as exc:
        raise ImproperlyConfigured(f"MODERATION_POLICY_FILE: {exc}") from None
