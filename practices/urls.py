from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("office/switch/", views.office_switch, name="office_switch"),
    path("settings/", views.practice_settings, name="practice_settings"),
    path("settings/office/", views.office_edit, name="office_edit"),
    path("settings/team/", views.team, name="team"),
    path("settings/team/<int:member_id>/role/", views.team_member_role, name="team_member_role"),
    path("settings/team/<int:member_id>/remove/", views.team_member_remove,
         name="team_member_remove"),
    path("settings/team/invitations/<int:invitation_id>/revoke/", views.team_invitation_revoke,
         name="team_invitation_revoke"),
    path("invites/accept/", views.invitation_accept, name="invitation_accept"),
    path("invites/<str:token>/", views.invitation_open, name="invitation_open"),
    path("settings/api-keys/", views.api_keys, name="api_keys"),
    path("settings/api-keys/<int:api_key_id>/revoke/", views.api_key_revoke,
         name="api_key_revoke"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/password-reset/sent/", auth_views.PasswordResetDoneView.as_view(),
         name="password_reset_done"),
    path("accounts/reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(),
         name="password_reset_confirm"),
    path("accounts/reset/done/", auth_views.PasswordResetCompleteView.as_view(),
         name="password_reset_complete"),
]
