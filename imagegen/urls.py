from django.contrib import admin
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView

from accounts.web.views import admin_login
from imagegen import health
from imagegen.api.errors import handler404 as api_not_found
from imagegen.api.schema import ApiDocsView
from imagegen.metrics import metrics_view
from images.api.uploads import local_upload
from images.web.media import signed_media

# JSON errors under /api/ (and OpenAI's shape under /v1/); Django's pages elsewhere.
handler400 = "imagegen.api.errors.handler400"
handler403 = "imagegen.api.errors.handler403"
handler404 = "imagegen.api.errors.handler404"
handler500 = "imagegen.api.errors.handler500"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("api/v1/", include("accounts.api.urls")),
    path("api/v1/", include("images.api.urls")),
    path("v1/", include("images.api.openai_urls")),
    path("media/<path:key>", signed_media, name="signed-media"),
    path("uploads/<uuid:image_id>", local_upload, name="local-upload"),
    path("api/schema", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs", ApiDocsView.as_view(url_name="schema"), name="api-docs"),
    # Before the admin's own URLs: its sign-in is throttled and its failures logged.
    path("admin/login/", admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    # The gallery web UI (SPEC §3): "/" and the pages around it.
    path("", include("accounts.web.urls")),
    path("", include("images.web.urls")),
    # Unknown API URLs answer in the API's error shape even with DEBUG on (Django's
    # handler404 only runs with DEBUG off). CSRF-exempt like the API's views, so that an
    # unknown URL is a JSON 404 for every method, not Django's CSRF page.
    re_path(r"^(?:api|v1)/", csrf_exempt(api_not_found)),
]
