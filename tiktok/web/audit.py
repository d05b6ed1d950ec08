"""The audit rehearsal page (``/audit/``): TikTok's UX points and a checklist for the demo video (issue 25, item 3).

TikTok's app review checks the "Post to TikTok" page against the UX points of its content-sharing guidelines
(https://developers.tiktok.com/doc/content-sharing-guidelines); audit rejections quote their lines. The page lists
them in the guidelines' order, each with the words the reference gives (/work/shared/reference/tiktok-open-api.md,
§8.4 "UX/audit rules that affect request content", and its exact disclosure strings, kept once in
:data:`tiktok.posting.composition.DISCLOSURE_TEXTS`), and where this tool's composer meets it: a link that opens the
composer for a linked account at the element (its id on tiktok/templates/compose.html) that shows it. Then the
checklist for recording the demo video, and the app mode in force (:func:`tiktok.web.views.current_app_mode`), since
an unaudited or sandbox app can only demo "Only me" posts to a private account and inbox drafts (reference §8.2-8.3).
"""

from __future__ import annotations

from typing import NamedTuple

from flask import Blueprint, Flask, render_template, request

from tiktok.posting.composition import DISCLOSURE_TEXTS
from tiktok.web.views import current_app_mode, mode_line, services

bp = Blueprint("audit", __name__, url_prefix="/audit")


class UxPoint(NamedTuple):
    """One UX point: its name, TikTok's words (as the reference gives them), how the composer meets it, and the ids
    of the composer's elements that show it (the first one is where the link lands)."""

    name: str
    words: tuple[str, ...]
    composer: str
    element_ids: tuple[str, ...]


# The guidelines' order: their "Required UX Implementation" section numbers five points (1 creator info, 2 the post's
# metadata, 3 commercial content disclosure, 4 compliance, 5 the user's awareness and control; audit rejections cite
# them by number). The words are the reference's (§8.4, markdown marks left out) and TikTok's exact strings.
UX_POINTS = (
    UxPoint("Creator info",
            ("Fetch creator_info when rendering the post page; show creator_nickname; stop if creator cannot post; "
             "enforce max_video_post_duration_sec.",),
            "The composer asks TikTok for creator_info each time it opens and shows “Posting as” the creator's "
            "nickname; when TikTok says the creator cannot post now, it shows the reason instead of the form; a "
            "video longer than the creator's limit is refused before anything is sent.",
            ("creator-nickname",)),
    UxPoint("The post's metadata: title, privacy and interactions",
            ("Privacy chosen manually from privacy_level_options, no default. Comment/Duet/Stitch unchecked by "
             "default and greyed out when creator_info disables them; photos show only \"Allow comment\".",),
            "The title and description are the creator's to write. The privacy list holds only the levels "
            "creator_info offers and starts on “Choose who can see this post”, which cannot be posted. Comment, Duet "
            "and Stitch start unticked; one the account turned off in TikTok is greyed out and says so; a photo post "
            "shows only Comment.",
            ("description", "privacy", "allow-comment", "allow-duet", "allow-stitch")),
    UxPoint("Commercial content disclosure",
            ("Commercial content disclosure off by default; \"Your brand\" ⇒ brand_organic_toggle (\"Promotional "
             "content\" label); \"Branded content\" ⇒ brand_content_toggle (\"Paid partnership\"); with the toggle "
             "on at least one must be checked.",
             DISCLOSURE_TEXTS["needed"], DISCLOSURE_TEXTS["branded_not_private"],
             DISCLOSURE_TEXTS["labeled_as"].format(label=DISCLOSURE_TEXTS["paid_partnership"])),
            "The disclosure toggle, “Your brand” and “Branded content” start off; with the toggle on and neither "
            "chosen, posting is disabled with TikTok's hover text; the page names the label the post gets.",
            ("disclosure", "disclose", "your-brand", "branded")),
    UxPoint("Compliance: the declaration before posting",
            (DISCLOSURE_TEXTS["consent_music"], DISCLOSURE_TEXTS["consent_branded"]),
            "The declaration sits above the buttons; it names the Branded Content Policy as well when branded "
            "content is chosen.",
            ("consent-text",)),
    UxPoint("The creator's awareness and control",
            ("Preview; user consent before any upload; tell users processing may take minutes; poll status or use "
             "webhooks; no watermarks.",),
            "The video is previewed before posting, nothing is sent until the creator presses a button, the page "
            "says TikTok can take a few minutes to process a post, the Posts page follows its status to the end, "
            "and the tool never adds anything to the media.",
            ("preview", "post-now", "processing-note")),
)

# What the demo video must show (reference §8.2-8.3: an app not yet audited posts only "Only me" to a private
# account; inbox drafts are the way to publish publicly).
CHECKLIST = (
    ("checklist-private-account", "Use a private TikTok account: an unaudited app may post only to private accounts "
     "(TikTok refuses others with unaudited_client_can_only_post_to_private_accounts)."),
    ("checklist-only-me", "Choose “Only me” as the privacy, picked by hand from the list."),
    ("checklist-inbox", "Show the inbox draft path: “Send to inbox as a draft”, then finish the post in the TikTok "
     "app."),
    ("checklist-disclosure", "Show the commercial content disclosure: turn it on, show the hover text with nothing "
     "chosen, then pick “Your brand” or “Branded content” and show the label."),
    ("checklist-status", "Show the post's status to the end on the Posts page, until TikTok has published it or "
     "sent it to the inbox."),
)

UNKNOWN_MODE = ("This TikTok app's mode is not known yet: nothing has been refused, so the composer offers every "
                "privacy level as for an audited app. Set TIKTOK_APP_MODE in .env to sandbox, unaudited or audited.")


def register(app: Flask) -> None:
    app.register_blueprint(bp)


@bp.get("/")
def index():
    accounts = sorted(services().store.load().values(), key=lambda a: a.label)
    chosen = request.args.get("open_id")
    account = next((a for a in accounts if a.open_id == chosen), accounts[0] if accounts else None)
    return render_template("audit.html", points=UX_POINTS, checklist=CHECKLIST, accounts=accounts,
                           account=account, mode_line=mode_line(current_app_mode()) or UNKNOWN_MODE)
