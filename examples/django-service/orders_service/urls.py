from django.urls import path, re_path

from . import views

urlpatterns = [
    path("healthz", views.healthz),
    path("api/me", views.me),
    path("api/orders", views.orders),
    path("api/orders/<int:order_id>", views.order_detail),
    re_path(r"^reports/?(?P<rest>.*)$", views.reports),
]
