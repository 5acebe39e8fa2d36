"""The portal's URLs plus one screen behind an add-on, to try `addon_required` through a URL."""

from django.http import HttpResponse
from django.urls import path

from config.urls import urlpatterns as portal_urlpatterns
from practices.access import addon_required


@addon_required("voice")
def voice_screen(request):
    return HttpResponse(f"voice screen of {request.practice.name}")


urlpatterns = [path("voice-screen/", voice_screen), *portal_urlpatterns]
