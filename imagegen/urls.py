from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

from imagegen import health

# JSON errors under /api/ (and OpenAI's shape under /v1/); Django's pages elsewhere.
handler400 = "imagegen.api.errors.handler400"
handler403 = "imagegen.api.errors.handler403"
handler404 = "imagegen.api.errors.handler404"
handler500 = "imagegen.api.errors.handler500"

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("api/v1/", include("accounts.api_urls")),
    path("api/v1/", include("images.api_urls")),
    path("admin/", admin.site.urls),
]
