from django.apps import AppConfig


class ImagesConfig(AppConfig):
    name = "images"
    verbose_name = "Images"

    def ready(self) -> None:
        from accounts.profile import add_profile_figures
        from images.services.usage import profile_figures

        add_profile_figures(profile_figures)
