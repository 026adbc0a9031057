from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

from imagegen import health

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("api/v1/", include("accounts.api_urls")),
    path("api/v1/", include("images.api_urls")),
    path("admin/", admin.site.urls),
]
