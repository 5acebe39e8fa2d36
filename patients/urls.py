from django.urls import path

from . import views

urlpatterns = [
    path("", views.patient_list, name="patients"),
    path("<int:patient_id>/", views.patient_detail, name="patient_detail"),
    path("guarantors/<int:guarantor_id>/", views.guarantor_detail, name="guarantor_detail"),
    path("import/", views.import_upload, name="patient_import"),
    path("import/template.csv", views.import_template, name="patient_import_template"),
    path("import/<int:import_id>/", views.import_detail, name="patient_import_detail"),
    path("import/<int:import_id>/progress/", views.import_progress, name="patient_import_progress"),
    path("import/<int:import_id>/confirm/", views.import_confirm, name="patient_import_confirm"),
]
