from django.conf import settings
from django.urls import path

from . import views

urlpatterns = [
    path("healthz", views.healthz),
    path("api/me", views.me),
    path("api/orders", views.orders),
    path("api/orders/<int:order_id>", views.order_detail),
    path("reports", views.reports),
    path("reports/", views.reports),
    path("reports/<path:rest>", views.reports),
]

if settings.ADMIN:
    from django.contrib import admin

    urlpatterns.append(path("admin/", admin.site.urls))
