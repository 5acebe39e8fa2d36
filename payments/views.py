from django.shortcuts import render

from practices.access import practice_required


@practice_required
def index(request):
    return render(request, "payments/index.html")
