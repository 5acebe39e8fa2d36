from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="statements"),
    path("batches/<int:batch_id>/", views.batch_detail, name="statement_batch"),
    path("upload/", views.upload, name="statement_upload"),
    path("upload/template.csv", views.upload_template, name="statement_upload_template"),
    path("upload/<int:upload_id>/", views.upload_detail, name="statement_upload_detail"),
    path("upload/<int:upload_id>/progress/", views.upload_progress, name="statement_upload_progress"),
    path("upload/<int:upload_id>/confirm/", views.upload_confirm, name="statement_upload_confirm"),
    path("profiles/", views.profile_list, name="statement_profiles"),
    path("profiles/<int:profile_id>/", views.profile_detail, name="statement_profile"),
    path("profiles/<int:profile_id>/default/", views.profile_default, name="statement_profile_default"),
    path("profiles/<int:profile_id>/approve/", views.proof_approve, name="statement_profile_approve"),
    path("profiles/<int:profile_id>/guarantor/", views.profile_guarantor, name="statement_profile_guarantor"),
    path("profiles/<int:profile_id>/steps/new/", views.step_edit, name="statement_step_new"),
    path("profiles/<int:profile_id>/steps/<int:step_id>/", views.step_edit, name="statement_step"),
    path("profiles/<int:profile_id>/steps/<int:step_id>/delete/", views.step_delete,
         name="statement_step_delete"),
    path("profiles/<int:profile_id>/steps/<int:step_id>/test/", views.step_test, name="statement_step_test"),
]
