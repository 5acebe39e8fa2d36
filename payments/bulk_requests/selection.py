"""The list's selection, kept in the session across pages: every pending guarantor but those
deselected ("select all"), or the guarantors ticked. It belongs to one day's list of one
office; another list starts it afresh.

Every post from the list page carries the rows it showed and which of them were ticked, so the
selection follows the page whether its boxes were sent one by one (htmx) or with the action.
"""

from ..models import RequestList
from .campaigns import Selection

SESSION_KEY = "payment_requests_selection"


def _stored(request, request_list: RequestList) -> dict:
    stored = request.session.get(SESSION_KEY) or {}
    if stored.get("list") != request_list.pk:
        return {"list": request_list.pk, "all": False, "ids": [], "excluded": []}
    return stored


def selection_get(request, request_list: RequestList) -> Selection:
    stored = _stored(request, request_list)
    return Selection(everyone=stored["all"], ids=frozenset(stored["ids"]),
                     excluded=frozenset(stored["excluded"]))


def selection_apply(request, request_list: RequestList, *, action: str, shown: list[int],
                    picked: list[int]) -> Selection:
    """`all`: everyone pending; `none`: no one; `page`: the shown rows as ticked."""
    stored = _stored(request, request_list)
    if action == "all":
        stored.update(all=True, ids=[], excluded=[])
    elif action == "none":
        stored.update(all=False, ids=[], excluded=[])
    elif shown:
        shown_set, picked_set = set(shown), set(picked) & set(shown)
        if stored["all"]:
            excluded = (set(stored["excluded"]) - picked_set) | (shown_set - picked_set)
            stored["excluded"] = sorted(excluded)
        else:
            stored["ids"] = sorted((set(stored["ids"]) - shown_set) | picked_set)
    request.session[SESSION_KEY] = stored
    return selection_get(request, request_list)


def selection_clear(request) -> None:
    request.session.pop(SESSION_KEY, None)


def is_selected(selection: Selection, guarantor_id: int) -> bool:
    if selection.everyone:
        return guarantor_id not in selection.excluded
    return guarantor_id in selection.ids
