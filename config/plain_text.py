"""Plain-text messages (email subjects and bodies) from templates.

The portal's engine escapes for HTML, which in a plain-text email turns "Smith & Jones" into
"Smith &amp; Jones". Text templates render through the "text" engine (settings.TEMPLATES),
which does not escape; HTML email bodies keep using the portal's engine.
"""

from django.template import engines


def render_plain_text(template_name: str, context: dict) -> str:
    return engines["text"].get_template(template_name).render(context)
