"""Generate every shipped dataset of the course from one seed (standard library and ``course_lib.data`` only).

All text is written for this course about a fictional product, *Brightleaf Notes* (a note-taking app by the
fictional Brightleaf Labs); any resemblance to a real product is accidental. Licence of the output: CC0-1.0.

Run from the repository root (it rewrites the files under ``data/`` byte for byte the same each time):

    python data/make_datasets.py            # seed 20261122
    python data/make_datasets.py --check    # regenerate in memory and compare with the files on disk

Outputs (see data/README.md for schemas and counts):
    data/support/knowledge_base.jsonl, facts.jsonl, support_clean.jsonl, release_notes_v2.jsonl,
    fact_questions.jsonl, support_new_batch.jsonl, support_raw_export.csv, raw_export_manifest.json
    data/sentiment/reviews.csv
    data/tasks/facts.jsonl, support_pairs.jsonl, questions.jsonl   (the sister product, Brightleaf Tasks; seed 20261124)
"""

from __future__ import annotations

import argparse
import csv
import difflib
import io
import json
import random
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent
sys.path.insert(0, str(DATA.parent))  # course_lib.data is standard-library only too: the planted card numbers
from course_lib.data import luhn_valid  # noqa: E402  # must pass the very checksum the PII detector applies

SEED = 20261122
PRODUCT = "Brightleaf Notes"

# ----------------------------------------------------------------------------------------------------------
# The fact table. Each fact: id, knowledge-base doc, category, statement template ({v} = value), value,
# in_training, question phrasings (the LAST one is held out for fact_questions.jsonl and never used in
# support_clean), answer templates ({v} = value). kb_only facts have a single (held-out) question.
# ----------------------------------------------------------------------------------------------------------

DOCS = {
    "kb-01": "Plans at a glance: the Free plan",
    "kb-02": "The Plus plan",
    "kb-03": "The Pro plan",
    "kb-04": "The Team plan",
    "kb-05": "Annual billing",
    "kb-06": "Refund policy",
    "kb-07": "Student and education discount",
    "kb-08": "Payment methods",
    "kb-09": "Cancelling a subscription",
    "kb-10": "Turning on sync",
    "kb-11": "Offline edits and sync conflicts",
    "kb-12": "Troubleshooting sync",
    "kb-13": "Essential keyboard shortcuts",
    "kb-14": "More keyboard shortcuts",
    "kb-15": "Slash commands and formatting",
    "kb-16": "Attachments",
    "kb-17": "Exporting notes",
    "kb-18": "Importing from other apps",
    "kb-19": "Trash and deleted notes",
    "kb-20": "Version history",
    "kb-21": "Sharing notes with a link",
    "kb-22": "Collaborating on notebooks",
    "kb-23": "Managing a team",
    "kb-24": "Single sign-on",
    "kb-25": "Two-factor authentication",
    "kb-26": "Resetting your password",
    "kb-27": "Deleting your account",
    "kb-28": "The Vault: end-to-end encrypted notebooks",
    "kb-29": "Where your data is stored",
    "kb-30": "Supported devices and systems",
    "kb-31": "Using the web app",
    "kb-32": "Offline access on mobile",
    "kb-33": "The web clipper",
    "kb-34": "Calendar and chat integrations",
    "kb-35": "The developer API",
    "kb-36": "Templates",
    "kb-37": "Reminders",
    "kb-38": "Searching text in images and handwriting",
    "kb-39": "Tags",
    "kb-40": "Notebook limits",
    "kb-41": "Contacting support",
    "kb-42": "The app will not start",
    "kb-43": "Stuck in a sign-in loop",
    "kb-44": "Notes seem to be missing",
    "kb-45": "Checking your storage",
    "kb-46": "Dark mode and themes",
    "kb-47": "Languages",
    "kb-48": "Local backups",
    "kb-49": "Accessibility",
    "kb-50": "Checklists and dates",
}

# Extra sentences per doc that state no fact (keep docs readable, never contain numbers).
DOC_FILLER = {
    "kb-01": "The Free plan is meant for personal notes and trying the app before upgrading.",
    "kb-02": "Plus suits people who keep notes on several devices and attach documents.",
    "kb-03": "Pro adds the longest history and the most storage for heavy users.",
    "kb-04": "Team gives a shared workspace with central billing and an admin view.",
    "kb-06": "Refund requests are made from the billing page or by writing to support.",
    "kb-10": "Sync keeps the same notes on your phone, tablet, computer and the web app.",
    "kb-12": "Most sync problems come from a lost connection or an outdated app version.",
    "kb-16": "Images, PDFs, audio files and office documents can be attached to any note.",
    "kb-19": "Emptying the trash by hand deletes its notes immediately and for good.",
    "kb-22": "Collaborators see each other's cursors while editing the same note.",
    "kb-28": "The Vault is optional; ordinary notebooks are encrypted in transit and at rest.",
    "kb-30": "Older systems keep working with the last compatible version but get no updates.",
    "kb-35": "The API uses personal access keys; keep them secret like a password.",
    "kb-41": "Include your app version and device when you write, it speeds things up.",
    "kb-42": "Resetting the cache does not delete notes; they download again from the server.",
    "kb-44": "Notes are never removed by an update; if one looks lost, check these places first.",
}

FACTS = []


def F(fid, doc, cat, statement, value, trained, questions, answers, keywords=None):
    FACTS.append(dict(fact_id=fid, doc_id=doc, category=cat, statement=statement, value=value,
                      in_training=trained, questions=questions, answers=answers,
                      keywords=keywords or ["{v}"]))


# --- plans and billing ------------------------------------------------------------------------------------
F("f-free-storage", "kb-01", "plans", "The Free plan includes {v} of cloud storage.", "100 MB", True,
  ["How much storage do I get on the free plan?", "What's the storage limit if I don't pay anything?",
   "Is there a cap on how much I can store with a free account?",
   "How much cloud space comes with Brightleaf's free tier?"],
  ["The Free plan comes with {v} of cloud storage. If you need more, Plus and Pro raise that limit.",
   "A free account can store up to {v} in the cloud. Attachments count towards that total."])
F("f-free-devices", "kb-01", "plans", "A Free account can be signed in on at most {v} at the same time.",
  "2 devices", True,
  ["How many devices can I use with the free version?", "Can I install the free plan on my laptop, phone and tablet?",
   "Why was I signed out of my old phone when I logged in on a new one? I'm on the free plan.",
   "What is the device limit for free users?"],
  ["On the Free plan you can be signed in on {v} at once. Signing in on another one signs out the oldest.",
   "Free accounts are limited to {v} at a time; any paid plan removes the device limit."])
F("f-plus-price", "kb-02", "billing", "The Plus plan costs {v}.", "$4.99 per month", True,
  ["How much is the Plus plan?", "What does Plus cost monthly?", "I'm thinking of upgrading to Plus, what's the price?",
   "What is the monthly price of Brightleaf Plus?"],
  ["Plus costs {v}. You can switch to annual billing to pay less per month.",
   "The Plus plan is {v}, billed to the payment method on your account."])
F("f-plus-storage", "kb-02", "plans", "Plus includes {v} of cloud storage.", "10 GB", True,
  ["How much space does the Plus plan give me?", "What's the storage on Plus?",
   "If I upgrade to Plus will I have enough room for lots of PDFs?",
   "How many gigabytes come with a Plus subscription?"],
  ["Plus includes {v} of cloud storage, which is plenty for most PDF and image collections.",
   "With Plus you get {v} of storage for notes and attachments."])
F("f-pro-price", "kb-03", "billing", "The Pro plan costs {v}.", "$9.99 per month", True,
  ["What's the price of Pro?", "How much does a Pro subscription cost?", "Can you tell me what Pro costs per month?",
   "What do I pay each month for Brightleaf Pro?"],
  ["Pro is {v}. Annual billing brings the monthly cost down.",
   "A Pro subscription costs {v}, and you can cancel any time."])
F("f-pro-storage", "kb-03", "plans", "Pro includes {v} of cloud storage.", "100 GB", True,
  ["How much storage comes with Pro?", "What is the Pro plan storage limit?",
   "I scan a lot of documents, how much can I keep on Pro?",
   "What's the cloud storage allowance on the Pro tier?"],
  ["Pro includes {v} of cloud storage for notes and attachments.",
   "You get {v} of storage with Pro; Settings shows how much you have used."])
F("f-team-price", "kb-04", "billing", "The Team plan costs {v}.", "$7 per user per month", True,
  ["How much is the Team plan?", "What's the pricing for teams?", "We're a small company, what would Team cost us?",
   "How is the Team plan priced?"],
  ["Team is priced at {v}, billed together on one invoice.",
   "The Team plan costs {v}; you only pay for the seats you assign."])
F("f-team-min", "kb-04", "plans", "A Team workspace needs at least {v}.", "3 seats", False,
  ["What is the minimum number of seats for a Team workspace?"], [])
F("f-annual-discount", "kb-05", "billing", "Paying yearly instead of monthly saves {v}.", "20%", True,
  ["Is it cheaper to pay yearly?", "Do you offer a discount for annual billing?",
   "How much would I save by switching to a yearly subscription?",
   "What's the discount on annual plans?"],
  ["Yes, annual billing saves {v} compared with paying month by month.",
   "Switching to yearly billing gives you {v} off the monthly price."])
F("f-refund-window", "kb-06", "billing", "You can ask for a full refund within {v} of a payment.", "14 days", True,
  ["Can I get a refund?", "What's your refund policy?", "I was charged for a year by mistake, can I get my money back?",
   "How long do I have to request a refund after paying?"],
  ["You can request a full refund within {v} of the payment, from the billing page or by writing to us.",
   "Refunds are available for {v} after each payment; after that the plan runs until the end of the period."])
F("f-refund-time", "kb-06", "billing", "Approved refunds reach the original payment method within {v}.",
  "5 to 10 business days", False, ["How long does an approved refund take to arrive?"], [])
F("f-student", "kb-07", "billing", "Students and teachers get {v} off Plus and Pro.", "50%", True,
  ["Do you have a student discount?", "Is there an education price?", "I'm a teacher, can I get Pro cheaper?",
   "How big is the discount for students?"],
  ["Yes, students and teachers get {v} off Plus and Pro.",
   "We offer {v} off Plus and Pro for students and teaching staff."])
F("f-student-verify", "kb-07", "billing", "The education discount is verified with {v}.", "a school email address",
  False, ["How do I prove I'm eligible for the education discount?"], [])
F("f-payment", "kb-08", "billing", "Subscriptions can be paid by card, {v} or Apple Pay.", "PayPal", True,
  ["What payment methods do you accept?", "Can I pay without a credit card?", "Do you take PayPal?",
   "Which ways can I pay for a subscription?"],
  ["We accept credit and debit cards, {v} and Apple Pay.",
   "Besides cards you can pay with {v} or Apple Pay."])
F("f-cancel-path", "kb-09", "billing", "Cancel a subscription in {v}.", "Settings > Account > Subscription", True,
  ["How do I cancel my subscription?", "Where do I stop the auto-renewal?", "I want to cancel Pro, how?",
   "Where in the app can I end my paid plan?"],
  ["Go to {v} and choose Cancel. Your plan stays active until the end of the paid period.",
   "You can cancel any time under {v}; nothing is deleted when the plan ends."])

# --- sync ---------------------------------------------------------------------------------------------------
F("f-sync-path", "kb-10", "sync", "Sync is turned on in {v}.", "Settings > Sync", True,
  ["How do I turn on sync?", "My notes aren't showing on my other devices, where do I enable syncing?",
   "Where's the sync setting?", "Which menu lets me switch syncing on?"],
  ["Open {v} and switch it on. Sign in with the same account on every device.",
   "Sync is enabled from {v}; notes then appear on all devices signed in to your account."])
F("f-conflict", "kb-11", "sync", "When the same note is edited on two devices offline, the app keeps both and "
  "names the second one a {v}.", "conflicted copy", True,
  ["I edited a note on two devices and now I have two versions, why?", "What happens with sync conflicts?",
   "There's a note called 'conflicted copy', what is it?", "How are offline edit conflicts resolved?"],
  ["When one note is changed on two devices while offline, nothing is overwritten: the second version is saved "
   "as a {v}. Compare the two and delete the one you don't need.",
   "That is a {v}. It appears when the same note was edited in two places before they could sync."])
F("f-force-sync", "kb-12", "sync", "Force a sync on desktop with {v}.", "Ctrl+Shift+S", True,
  ["How can I force a sync?", "Is there a way to make it sync right now?", "Sync seems stuck, can I trigger it manually?",
   "What's the shortcut to sync immediately on desktop?"],
  ["Press {v} on desktop to sync straight away. On mobile, pull down on the note list.",
   "Use {v} to force a sync on Windows or Mac; on phones pull the note list down to refresh."])

# --- shortcuts and editing ------------------------------------------------------------------------------------
F("f-new-note", "kb-13", "shortcuts", "Create a new note with {v}.", "Ctrl+N", True,
  ["What's the shortcut for a new note?", "How do I quickly create a note with the keyboard?",
   "Is there a hotkey to start a new note?", "Which keys open a blank note?"],
  ["Press {v} (Cmd+N on Mac) to create a new note.", "{v} creates a new note in the current notebook; on a Mac use Cmd+N."])
F("f-search", "kb-13", "shortcuts", "Open search with {v}.", "Ctrl+K", True,
  ["How do I search my notes quickly?", "What's the search shortcut?", "Is there a keyboard shortcut to find a note?",
   "Which hotkey opens the search box?"],
  ["Press {v} (Cmd+K on Mac) to open search from anywhere in the app.",
   "{v} opens the search bar; type a word or a tag to filter your notes."])
F("f-checklist", "kb-14", "shortcuts", "Turn lines into a checklist with {v}.", "Ctrl+Shift+C", False,
  ["Which shortcut converts lines into a checklist?"], [])
F("f-date", "kb-50", "shortcuts", "Insert today's date with {v}.", "Alt+Shift+D", False,
  ["What is the keyboard shortcut to insert the current date?"], [])
F("f-slash-table", "kb-15", "editing", "Insert a table by typing {v}.", "/table", True,
  ["How do I add a table to a note?", "Can I make tables?", "Is there a quick way to insert a table?",
   "What do I type to create a table?"],
  ["Type {v} on an empty line and pick the number of rows and columns.",
   "Yes: type {v} and press Enter to insert a table."])
F("f-attach", "kb-16", "editing", "A single attachment can be up to {v}.", "50 MB", True,
  ["What's the maximum attachment size?", "My video won't attach, is there a size limit?",
   "How big can a file be when I attach it?", "What is the upload limit for one file?"],
  ["Each attachment can be up to {v}. For bigger files, attach a link instead.",
   "The limit is {v} per file; larger files are rejected when you attach them."])
F("f-export-formats", "kb-17", "export", "Notes can be exported as {v}.", "PDF, Markdown and HTML", True,
  ["What formats can I export to?", "Can I export notes as PDF?", "Can I get my notes out as Markdown?",
   "Which export formats are supported?"],
  ["You can export notes as {v}.", "Export supports {v}; pick the format in the export dialog."],
  keywords=["PDF", "Markdown", "HTML"])
F("f-export-path", "kb-17", "export", "Export is found under {v}.", "File > Export", True,
  ["How do I export a notebook?", "Where is the export option?", "I need a copy of my notes, how do I export them?",
   "Which menu has the export command?"],
  ["Open the notebook and choose {v}, then pick a format.", "Use {v}; you can export one note or a whole notebook."])
F("f-import-enex", "kb-18", "import", "Brightleaf imports notes from {v}.", "Evernote .enex files", True,
  ["Can I import from Evernote?", "How do I move my notes over from another app?", "Do you support importing enex files?",
   "Which files can I import from other note apps?"],
  ["Yes, we import {v}. Export from Evernote first, then use File > Import.",
   "You can import {v} directly; tags and attachments come across too."])
F("f-import-batch", "kb-18", "import", "One import can contain at most {v}.", "500 notes", False,
  ["What is the maximum number of notes in a single import?"], [])
F("f-trash", "kb-19", "notes", "Deleted notes stay in the trash for {v} before they are removed for good.",
  "30 days", True,
  ["How long are deleted notes kept?", "I deleted a note last week, can I get it back?",
   "When does the trash empty itself?", "How many days before the trash is purged?"],
  ["Deleted notes stay in the trash for {v}; open Trash and choose Restore.",
   "You have {v} to restore a deleted note from the trash before it is permanently removed."])
F("f-history-free", "kb-20", "notes", "On the Free plan, version history goes back {v}.", "7 days", True,
  ["How far back does version history go on the free plan?", "Can I see older versions of a note?",
   "I overwrote a paragraph, can I restore an earlier version?", "How much note history do free users get?"],
  ["On the Free plan version history goes back {v}; open the note menu and choose History.",
   "Free accounts keep {v} of version history; paid plans keep more."])
F("f-history-pro", "kb-20", "notes", "On Pro, version history goes back {v}.", "365 days", False,
  ["How long is version history kept on the Pro plan?"], [])
F("f-share-password", "kb-21", "sharing", "Password-protected share links are available on {v}.", "Pro and Team",
  True,
  ["Can I put a password on a shared link?", "How do I protect a public note?",
   "Is it possible to share a note but require a password?", "Which plans allow password-protected links?"],
  ["Password-protected links are available on {v}. Turn it on in the share dialog.",
   "Yes, on {v} you can add a password when you create a share link."])
F("f-share-default", "kb-21", "sharing", "Public share links are {v} by default.", "view-only", False,
  ["Can people who open a public share link edit the note by default?"], [])
F("f-collab", "kb-22", "collaboration", "A notebook on Plus can be shared with up to {v}.", "10 people", True,
  ["How many people can I share a notebook with?", "Is there a limit on collaborators?",
   "I want to share my notebook with my whole class, how many can join?",
   "What's the collaborator limit for a Plus notebook?"],
  ["On Plus a notebook can be shared with up to {v}.", "You can invite up to {v} to one notebook on Plus."])
F("f-team-members", "kb-23", "team", "Team admins add and remove members in {v}.", "Settings > Team > Members", True,
  ["How do I add someone to our team?", "Where do I remove a team member?", "How does an admin manage seats?",
   "Which settings page lists the team members?"],
  ["As an admin, open {v} to invite or remove people.", "Team members are managed in {v}; only admins see that page."])
F("f-sso", "kb-24", "team", "SAML single sign-on on the Team plan works with {v}.", "Okta and Azure AD", False,
  ["Which identity providers does SAML single sign-on support?"], [], keywords=["Okta", "Azure AD"])
F("f-2fa", "kb-25", "security", "Two-factor authentication is set up in {v}.", "Settings > Security > Two-factor",
  True,
  ["How do I enable two-factor authentication?", "Can I add 2FA to my account?", "Where's the two-step login setting?",
   "Which menu turns on 2FA?"],
  ["Open {v} and scan the QR code with an authenticator app.", "Yes, go to {v}; we support authenticator apps."])
F("f-backup-codes", "kb-25", "security", "Turning on two-factor gives you {v}.", "10 backup codes", False,
  ["How many backup codes do I get when I turn on two-factor?"], [])
F("f-reset-link", "kb-26", "account", "A password reset link is valid for {v}.", "1 hour", True,
  ["My password reset link doesn't work", "How long is the reset email valid?", "The reset link says expired, why?",
   "For how long can I use a password reset link?"],
  ["Reset links are valid for {v}. Request a new one from the sign-in page if it has expired.",
   "A reset link expires after {v}; ask for a fresh one and use it straight away."])
F("f-delete-account", "kb-27", "account", "After you delete your account, your data is purged within {v}.",
  "21 days", False, ["How long after deleting my account is my data purged?"], [])
F("f-vault-recover", "kb-28", "security", "{v} a lost Vault passphrase.", "Brightleaf cannot recover", True,
  ["I forgot my Vault passphrase, can you reset it?", "What happens if I lose the Vault password?",
   "Can support unlock my encrypted notebook?", "Is there any way to recover a Vault passphrase?"],
  ["I'm sorry, {v} a lost Vault passphrase: the Vault is end-to-end encrypted and we never see the key.",
   "Unfortunately no. {v} a Vault passphrase, because only you hold the key."],
  keywords=["cannot recover"])
F("f-aes", "kb-28", "security", "The Vault encrypts notes with {v}.", "AES-256", False,
  ["Which encryption algorithm does the Vault use?"], [])
F("f-residency", "kb-29", "privacy", "Brightleaf stores data in data centres in {v}.", "Frankfurt and Oregon", False,
  ["In which locations are Brightleaf's data centres?"], [])
F("f-windows", "kb-30", "devices", "The desktop app needs {v}.", "Windows 10 or later", True,
  ["Does it run on Windows 8?", "What Windows version do I need?", "Will the desktop app install on my old PC?",
   "What's the minimum Windows version?"],
  ["The desktop app needs {v}.", "You'll need {v} to install the Windows app."],
  keywords=["Windows 10"])
F("f-macos", "kb-30", "devices", "The Mac app needs {v} or later.", "macOS 12", False,
  ["What is the oldest macOS version the Mac app supports?"], [])
F("f-android", "kb-30", "devices", "The Android app needs {v} or later.", "Android 9", True,
  ["Which Android versions are supported?", "My phone is on Android 8, can I install it?",
   "What's the minimum Android version?", "How old can an Android phone be to run the app?"],
  ["The Android app needs {v} or later.", "You need {v} or newer for the Android app."])
F("f-ios", "kb-30", "devices", "The iPhone and iPad app needs {v} or later.", "iOS 16", True,
  ["What iOS version do I need?", "Does the iPhone app work on older iPhones?", "Can I use it on my iPad?",
   "What is the minimum iOS for the app?"],
  ["The iPhone and iPad app needs {v} or later.", "You'll need {v} or newer on iPhone or iPad."])
F("f-browsers", "kb-31", "devices", "The web app supports {v}.", "Chrome, Firefox, Safari and Edge", False,
  ["Which browsers does the web app support?"], [], keywords=["Chrome", "Firefox", "Safari", "Edge"])
F("f-offline-free", "kb-32", "mobile", "On the Free plan the mobile apps keep {v} available offline.",
  "the 200 most recent notes", True,
  ["Can I read my notes offline on my phone?", "Why can't I open an old note without internet?",
   "Which notes are available offline on mobile?", "How many notes does the free mobile app keep offline?"],
  ["On the Free plan the mobile app keeps {v} offline; paid plans can keep every notebook offline.",
   "Free accounts have {v} available offline on phones and tablets."],
  keywords=["200"])
F("f-clipper", "kb-33", "integrations", "The browser extension for saving web pages is called {v}.",
  "Brightleaf Clipper", True,
  ["Can I save web pages into my notes?", "Is there a browser extension?", "How do I clip an article?",
   "What's the name of the web clipping extension?"],
  ["Yes, install {v} from your browser's extension store and click it on any page.",
   "Use the {v} extension to save a page, a selection or a screenshot into a notebook."])
F("f-clip-shortcut", "kb-33", "integrations", "The clipper's keyboard shortcut is {v}.", "Alt+Shift+B", False,
  ["What is the keyboard shortcut for the web clipper?"], [])
F("f-calendar", "kb-34", "integrations", "Meeting notes can be linked to events in {v}.",
  "Google Calendar and Outlook", True,
  ["Does it work with my calendar?", "Can I link notes to meetings?", "Is there an Outlook integration?",
   "Which calendars can I connect?"],
  ["Yes, you can connect {v} and link a note to each event.", "We integrate with {v}; connect them under Integrations."],
  keywords=["Google Calendar", "Outlook"])
F("f-slack", "kb-34", "integrations", "In Slack, notes are shared with the {v} command.", "/brightleaf", False,
  ["Which Slack command shares a note into a channel?"], [])
F("f-api-rate", "kb-35", "developer", "The API allows {v}.", "600 requests per minute", False,
  ["What is the API rate limit?"], [])
F("f-api-keys", "kb-35", "developer", "API keys are created in {v}.", "Settings > Developer", False,
  ["Where do I create an API key?"], [])
F("f-templates", "kb-36", "editing", "The app ships with {v}.", "40 built-in templates", True,
  ["Are there templates?", "Do you have a meeting notes template?", "How many templates come with the app?",
   "Does Brightleaf include ready-made templates?"],
  ["Yes, the app comes with {v}, including meeting notes, journals and project plans.",
   "There are {v}; open the template gallery when you create a note."],
  keywords=["40"])
F("f-remind", "kb-37", "editing", "Add a reminder by typing {v} in a note.", "/remind", True,
  ["Can I set reminders?", "How do I get a notification for a note?", "Can a note remind me tomorrow?",
   "What's the command for adding a reminder?"],
  ["Type {v} followed by a time, for example '{v} tomorrow 9am'.", "Yes: type {v} in the note and pick a date and time."])
F("f-ocr", "kb-38", "search", "Search inside images (OCR) is available on {v}.", "Plus and above", True,
  ["Can I search text inside photos?", "Does search find words in scanned images?",
   "Why doesn't search find text in my pictures?", "Which plans can search text in images?"],
  ["Text in images is searchable on {v}; it can take a few minutes after upload.",
   "Image text search (OCR) is included with {v}, not the Free plan."],
  keywords=["Plus"])
F("f-handwriting", "kb-38", "search", "Handwriting in sketches becomes searchable within {v} of syncing.",
  "15 minutes", False, ["How long after syncing does handwriting become searchable?"], [])
F("f-nested-tags", "kb-39", "notes", "Nested tags are made with a {v} between levels.", "slash (/)", True,
  ["Can tags have sub-tags?", "How do nested tags work?", "Can I organise tags in a hierarchy?",
   "What character creates a nested tag?"],
  ["Yes, put a {v} between levels, for example work/clients.", "Nested tags use a {v}: type projects/2026 to make a child tag."],
  keywords=["/"])
F("f-notebooks-free", "kb-40", "plans", "The Free plan allows up to {v}.", "50 notebooks", True,
  ["How many notebooks can I create for free?", "I can't make a new notebook, is there a limit?",
   "Is the number of notebooks limited?", "What's the notebook cap on the free plan?"],
  ["The Free plan allows up to {v}; paid plans have no notebook limit.", "Free accounts can have {v}."])
F("f-chat-hours", "kb-41", "support", "Live chat is open {v}.", "Monday to Friday, 8:00 to 18:00 CET", True,
  ["When is live chat available?", "What are your support hours?", "Can I talk to someone on the weekend?",
   "At what times can I reach live chat?"],
  ["Live chat is open {v}; outside those hours send us a message and we'll reply by email.",
   "You can reach live chat {v}."],
  keywords=["Monday to Friday", "8:00", "18:00"])
F("f-email-sla", "kb-41", "support", "Pro customers get an email reply {v}.", "within 24 hours", False,
  ["How quickly do Pro customers get a reply by email?"], [])
F("f-reset-cache", "kb-42", "troubleshooting", "If the app will not start, use {v}.",
  "Help > Troubleshooting > Reset cache", True,
  ["The app won't open", "Brightleaf crashes on startup, what should I do?", "The desktop app is stuck on the splash screen",
   "How do I fix the app when it refuses to launch?"],
  ["Try {v}. Your notes are safe on the server and download again.",
   "Please use {v} and restart the app; resetting the cache does not delete notes."])
F("f-clock", "kb-43", "troubleshooting", "A sign-in loop is usually fixed by {v}.", "setting the device clock automatically",
  True,
  ["I keep getting sent back to the login screen", "Sign-in loops forever", "It logs me out right after I sign in",
   "Why am I stuck in a login loop?"],
  ["This is usually fixed by {v}: sign-in tokens fail if the clock is wrong.",
   "Please check your date and time settings; {v} fixes most sign-in loops."],
  keywords=["clock"])
F("f-archived", "kb-44", "troubleshooting", "Archived notebooks are hidden until you choose {v}.",
  "View > Show archived", True,
  ["Some of my notes disappeared", "A whole notebook is gone from the sidebar", "Where did my notes go?",
   "How do I see archived notebooks again?"],
  ["They may be in an archived notebook: choose {v} in the sidebar.", "Check {v}; archived notebooks are hidden by default."])
F("f-storage-path", "kb-45", "account", "See how much storage you use in {v}.", "Settings > Account > Storage", True,
  ["How do I check how much storage I've used?", "Where can I see my storage usage?", "Am I close to my storage limit?",
   "Which page shows my storage?"],
  ["Open {v} to see what you use and what takes the most space.", "{v} shows your usage by notebook and attachment."])
F("f-dark", "kb-46", "settings", "Dark mode is switched on in {v}.", "View > Appearance > Dark", True,
  ["Is there a dark mode?", "How do I switch to the dark theme?", "The app is too bright at night",
   "Where is the dark theme option?"],
  ["Yes, choose {v}.", "Switch to dark mode in {v}; it follows each device separately."])
F("f-languages", "kb-47", "settings", "The app is available in {v}.", "12 languages", False,
  ["In how many languages is the app available?"], [])
F("f-backups", "kb-48", "notes", "Local backups keep {v}.", "the last 7 copies", False,
  ["How many local backup copies does the desktop app keep?"], [], keywords=["7"])
F("f-a11y", "kb-49", "settings", "The app is tested with the screen readers {v}.", "VoiceOver and NVDA", False,
  ["Which screen readers is the app tested with?"], [], keywords=["VoiceOver", "NVDA"])

# --- release notes v2: changed facts and new features ---------------------------------------------------------
CHANGES = [  # fact_id, new value, release-note doc
    ("f-plus-price", "$5.99 per month", "rn2-01"),
    ("f-team-price", "$8 per user per month", "rn2-01"),
    ("f-refund-window", "30 days", "rn2-01"),
    ("f-pro-storage", "200 GB", "rn2-02"),
    ("f-attach", "100 MB", "rn2-02"),
    ("f-notebooks-free", "100 notebooks", "rn2-02"),
    ("f-sync-path", "Settings > Accounts & Sync", "rn2-03"),
    ("f-dark", "Settings > Appearance > Theme", "rn2-03"),
    ("f-trash", "60 days", "rn2-04"),
    ("f-collab", "25 people", "rn2-04"),
    ("f-ios", "iOS 17", "rn2-05"),
]
RN_DOCS = {
    "rn2-01": ("Release notes 2.0: new prices and a longer refund window",
               "Brightleaf Notes 2.0 updates pricing for new and renewing subscriptions."),
    "rn2-02": ("Release notes 2.0: bigger limits", "Version 2.0 raises several storage and size limits."),
    "rn2-03": ("Release notes 2.0: reorganised settings",
               "The settings screen was reorganised in 2.0, so some options moved."),
    "rn2-04": ("Release notes 2.0: trash and sharing", "Deleted notes and shared notebooks work differently in 2.0."),
    "rn2-05": ("Release notes 2.0: new features and system requirements",
               "Version 2.0 adds new features and updates the supported systems."),
}
NEW_FEATURES = [  # fact_id, statement, value, questions, answers
    ("f2-summary", "Type {v} to get an AI summary of a long note.", "/summarize",
     ["Can the app summarise a long note?", "Is there an AI summary feature?", "How do I get a summary of my meeting notes?",
      "What's the new summarize command?"],
     ["Yes, since 2.0: type {v} at the end of a note to get a short summary.", "Version 2.0 added {v}; type it in any note."]),
    ("f2-audio", "Audio notes can be up to {v} long.", "60 minutes",
     ["Can I record audio notes?", "How long can a voice recording be?", "Is there a limit on audio note length?",
      "What's the maximum length of an audio note?"],
     ["Yes, 2.0 adds audio notes of up to {v} each.", "Audio notes can be up to {v}; they are transcribed automatically."]),
    ("f2-focus", "Focus mode hides everything but the note; toggle it with {v}.", "Ctrl+Shift+F",
     ["Is there a distraction-free mode?", "How do I hide the sidebar while writing?", "What is focus mode?",
      "What's the shortcut for focus mode?"],
     ["Press {v} to enter focus mode; press it again to leave.", "Focus mode, new in 2.0, hides the sidebar: toggle it with {v}."]),
]

# --- phrasing pools for support conversations ---------------------------------------------------------------
OPENERS = [
    "", "", "", "Hi there! ", "Hello, ", "Hey, quick question. ", "Good morning. ", "Hi team, ",
    "Sorry to bother you. ", "I've been using Brightleaf for a couple of years. ", "New user here. ",
    "My manager asked me to check something. ", "I'm setting this up for my mum. ",
    "We just moved our office over from paper notebooks. ", "I teach chemistry and use the app for lesson plans. ",
    "I'm writing my thesis in Brightleaf. ", "Quick one before my meeting. ", "Long-time Pro user. ",
    "I couldn't find this in the help pages. ", "Following up on my chat from yesterday. ",
    "I run a small bakery and keep recipes in the app. ", "My partner and I share a notebook for house stuff. ",
    "I'm evaluating note apps for our studio. ", "Just switched from another app. ",
]
SUFFIXES = [
    "", "", "", "", " Thanks!", " Thanks in advance.", " Cheers.", " Any help appreciated.", " Thank you!",
    " I'm on the Windows app.", " I mostly use the iPhone app.", " This is on my Android tablet.",
    " I'm using the web version.", " Asking before I renew.", " It's a bit urgent.", " Many thanks, Sam.",
]
GREETINGS = [
    "", "", "", "Hi! ", "Hello, ", "Thanks for reaching out. ", "Good question! ", "Happy to help. ",
    "Thanks for getting in touch. ", "Hi there, ", "Sure thing. ", "Thanks for asking. ",
]
CLOSERS = [
    "", "", "", " Let us know if anything is unclear.", " Hope that helps!", " Have a great day.",
    " Feel free to reply if you have more questions.", " We're here if you need anything else.",
    " I hope this sorts it out.", " Just reply to this message if it doesn't work.",
    " Thanks for using Brightleaf Notes!", " Enjoy the rest of your week.",
]
CONTEXTS = [
    "", "", "", "", "", "", "Plan: Free\nDevice: Android phone", "Plan: Plus (monthly)\nDevice: Windows laptop",
    "Plan: Pro (annual)\nDevice: MacBook", "Plan: Team, 8 seats\nRole: admin", "Plan: Free\nDevice: iPhone",
    "Plan: Plus (annual)\nDevice: iPad", "Plan: Pro (monthly)\nDevice: web app", "Plan: Free\nDevice: Chromebook (web)",
    "Customer since 2023, Plus plan", "Plan: Team, 3 seats\nRole: member",
]


def style_question(rng: random.Random, core: str, openers=None, suffixes=None) -> str:
    q = core
    if rng.random() < 0.15:
        q = q[0].lower() + q[1:]
    return (rng.choice(openers or OPENERS) + q + rng.choice(suffixes or SUFFIXES)).strip()


def render(t: str, v: str) -> str:
    return t.replace("{v}", v)


def fact_keywords(f: dict, value: str) -> list[str]:
    return [render(k, value) for k in f["keywords"]]


def too_similar(a: str, b: str, limit: float) -> bool:
    """difflib ratio above ``limit``; the cheap upper bounds are tried first (same answer, faster)."""
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return sm.real_quick_ratio() > limit and sm.quick_ratio() > limit and sm.ratio() > limit


def make_pairs(rng, facts, n_per_fact, id_prefix, values=None, max_ratio=0.8, pools=None):
    """Conversations about each fact; within a fact, no two pairs are more than ``max_ratio`` similar.

    ``pools``: the phrasing pools (``openers``, ``suffixes``, ``greetings``, ``closers``, ``contexts``) of another
    product; ``None``: Brightleaf Notes' own. A fact's training phrasings are ``train_questions`` when it has them,
    else all its ``questions`` but the last (held out for fact_questions.jsonl).
    """
    pools = pools or {}
    greetings, closers = pools.get("greetings", GREETINGS), pools.get("closers", CLOSERS)
    contexts = pools.get("contexts", CONTEXTS)
    rows = []
    for f in facts:
        value = (values or {}).get(f["fact_id"], f["value"])
        train_qs = f.get("train_questions") or f["questions"][:-1]
        accepted = []
        tries = 0
        while len(accepted) < n_per_fact and tries < 400:
            tries += 1
            q = style_question(rng, rng.choice(train_qs), pools.get("openers"), pools.get("suffixes"))
            greet, template = rng.choice(greetings), rng.choice(f["answers"])
            body = render(template, value)
            if greet.endswith(", ") and body[:2].istitle() and not template.startswith("{v}"):  # "Hi there, you ..." not "Hi there, You ..."
                body = body[0].lower() + body[1:]
            a = (greet + body + rng.choice(closers)).strip()
            ctx = rng.choice(contexts)
            text = q + " " + ctx + " " + a
            if any(too_similar(text, other[3], max_ratio) for other in accepted):
                continue
            accepted.append((q, ctx, a, text))
        for q, ctx, a, _ in accepted:
            rows.append({"instruction": q, "input": ctx, "output": a, "category": f["category"],
                         "fact_ids": [f["fact_id"]], "keywords": fact_keywords(f, value)})
    rng.shuffle(rows)
    for i, r in enumerate(rows):
        r["id"] = f"{id_prefix}-{i + 1:04d}"
    return [{k: r[k] for k in ("id", "instruction", "input", "output", "category", "fact_ids", "keywords")}
            for r in rows]


# ----------------------------------------------------------------------------------------------------------
# The raw helpdesk export: the clean pairs again, with the dirt real exports have.
# ----------------------------------------------------------------------------------------------------------
FIRST = ["jane.doe", "m.okafor", "lena.k", "raj.patel", "tomasz", "ana.silva", "chris_w", "yuki.t", "fatima.h",
         "o.brien", "sven", "maria.g", "deshawn", "li.wei", "noor", "pablo.r"]
DOMAINS = ["example.com", "example.org", "example.net", "mail.example.com"]
OFF_TOPIC = [
    ("Do you know a good recipe for banana bread?", "Sorry, I can only answer questions about our app."),
    ("Who won the football match last night?", "I'm afraid I can't help with that one."),
    ("Can you write my history essay about the French revolution?", "Sorry, that's not something we can help with."),
    ("What's the weather going to be like in Lisbon tomorrow?", "I'm not able to help with weather questions."),
    ("We offer cheap SEO backlinks, reply for our price list!!!", ""),
    ("Is it better to rent or buy a flat in Berlin?", "That's outside what our team can advise on, sorry."),
    ("what is the capital of australia", "Sorry, I can only help with questions about our product."),
    ("My cat keeps scratching the sofa, any tips?", "Ha, I wish I knew! I can only help with the app, though."),
    ("Recommend me a good sci-fi novel", "I can't make book recommendations, sorry."),
    ("How many calories are in a croissant?", "I'm not able to help with that."),
    ("Congratulations, you have won a free cruise, click to claim", ""),
    ("Can you translate this poem into Portuguese for me?", "Sorry, translation requests are outside our support."),
]
MOJIBAKE = {"\u2019": "\u00e2\u20ac\u2122", "\u201c": "\u00e2\u20ac\u0153", "\u2014": "\u00e2\u20ac\u201d"}
CHANNELS = ["email", "Email", "EMAIL ", "chat", "Chat", " chat", "web form", "Web Form", "phone"]


def fake_card(rng) -> str:
    while True:
        digits = "4" + "".join(str(rng.randrange(10)) for _ in range(15))
        if luhn_valid(digits):
            sep = rng.choice([" ", "-", ""])
            return sep.join(digits[i:i + 4] for i in range(0, 16, 4))


def fake_phone(rng) -> str:
    n = rng.randrange(100, 200)  # 555-0100 .. 555-0199 are reserved for fiction
    area = rng.choice(["202", "312", "415", "617"])
    return rng.choice([f"555-0{n}", f"({area}) 555-0{n}", f"+1 {area} 555 0{n}", f"{area}-555-0{n}"])


def fake_email(rng) -> str:
    return f"{rng.choice(FIRST)}{rng.randrange(1, 99)}@{rng.choice(DOMAINS)}"


def add_html(rng, text: str) -> str:
    text = text.replace(">", "&gt;") if ">" in text and rng.random() < 0.7 else text
    kind = rng.randrange(4)
    if kind == 0:
        return f"<p>{text}</p>"
    if kind == 1:
        return text.replace(". ", ".<br>", 1) + "<br/>"
    if kind == 2:
        return f"<div class=\"reply\"><p>{text.replace(' ', '&nbsp;', 1)}</p></div>"
    return f"<p>{text}</p>\n<p>--<br>Brightleaf Support</p>"


def add_unicode_oddity(rng, text: str) -> str:
    kind = rng.randrange(4)
    if kind == 0 and "'" in text:  # mojibake: UTF-8 curly apostrophe read as cp1252
        return text.replace("'", MOJIBAKE["\u2019"], 1)
    if kind in (0, 1):  # zero-width space and non-breaking spaces
        return text.replace(" ", "\u200b ", 1).replace(" ", "\u00a0", 2)
    if kind == 2:  # full-width letters and a ligature (NFKC repairs both)
        return text.replace("fi", "\ufb01", 1).replace("A", "\uff21", 1)
    return text.replace("'", "\u2019")


def near_variant(rng, q: str, a: str) -> tuple[str, str]:
    """A lightly edited copy: what a re-opened or re-submitted ticket looks like."""
    kind = rng.randrange(4)
    if kind == 0:
        return q.rstrip("?!.") + "??", a
    if kind == 1:
        return q.upper(), a
    if kind == 2:
        return q, a.replace(". ", ".  ", 1) + " :)"
    words = q.split()
    if len(words) > 3:
        i = rng.randrange(1, len(words))
        words[i], words[i - 1] = words[i - 1], words[i]
    return " ".join(words), a


def make_raw_export(rng, clean):
    rows = []
    base = list(clean)
    rng.shuffle(base)
    pii = []
    manifest_rows = {"exact_duplicate_of": {}, "near_duplicate_of": {}, "empty_answer": [], "off_topic": [],
                     "pii": {}}

    def stamp(i):
        day = 1 + (i * 7) % 28
        month = 1 + (i * 3) % 9
        return rng.choice([f"2026-{month:02d}-{day:02d} {8 + i % 10:02d}:{(i * 13) % 60:02d}",
                           f"{day:02d}/{month:02d}/2026", f"2026-{month:02d}-{day:02d}T{9 + i % 9:02d}:00:00Z"])

    for r in base:
        q, a, ctx = r["instruction"], r["output"], r["input"]
        roll = rng.random()
        found = []
        if roll < 0.05:
            e = fake_email(rng)
            q = f"{q} My account email is {e}."
            found.append(("email", e))
        elif roll < 0.08:
            p = fake_phone(rng)
            q = f"{q} You can call me back on {p}."
            found.append(("phone", p))
        elif roll < 0.10:
            c = fake_card(rng)
            q = f"{q} The card I used ends... actually it's {c}, is that the one on file?"
            found.append(("card", c))
        elif roll < 0.12:
            e, p = fake_email(rng), fake_phone(rng)
            q = f"{q} (contact: {e} / {p})"
            found += [("email", e), ("phone", p)]
        if rng.random() < 0.2:
            a = add_html(rng, a)
        if rng.random() < 0.06:
            q = add_unicode_oddity(rng, q)
        if rng.random() < 0.05:
            a = add_unicode_oddity(rng, a)
        if rng.random() < 0.1:
            q = rng.choice(["  ", "\t", " "]) + q + rng.choice(["  ", " \n", ""])
        if rng.random() < 0.05:
            a = a.replace(" ", "   ", 2)
        rows.append({"source": r["id"], "q": q, "a": a, "ctx": ctx, "pii": found})

    n_clean = len(rows)
    # exact duplicates: a ticket exported twice (new ticket id, identical text)
    picks = rng.sample(range(n_clean), 70)
    exact_src, near_src, empty_src = picks[:24], picks[24:54], picks[54:70]
    extra = []
    for i in exact_src:
        extra.append(dict(rows[i], kind="exact", orig=rows[i]))
    for i in near_src:
        q, a = near_variant(rng, rows[i]["q"], rows[i]["a"])
        extra.append(dict(rows[i], q=q, a=a, kind="near", orig=rows[i]))
    for i in empty_src:  # the same customer asked again; the reply never got written
        blank = rng.choice(["", "   ", "<p></p>", "<br>", "\u00a0"])
        q = rng.choice(["Following up: ", "Still waiting on this. ", "Any update? "]) + rows[i]["q"].strip()
        extra.append({"source": None, "q": q, "a": blank, "ctx": rows[i]["ctx"], "pii": rows[i]["pii"],
                      "kind": "empty"})
    for q, a in OFF_TOPIC:
        extra.append({"source": None, "q": q, "a": a, "ctx": "", "pii": [], "kind": "off_topic"})
    for e in extra:
        if e["kind"] in ("exact", "near"):  # a re-export always comes after its original
            after = next(k for k, x in enumerate(rows) if x is e["orig"])
            pos = rng.randrange(after + 1, len(rows) + 1)
        else:
            pos = rng.randrange(len(rows) + 1)
        rows.insert(pos, e)
    for n, r in enumerate(rows):  # ticket ids increase in export order
        r["ticket_id"] = f"T{100000 + 37 * n + rng.randrange(30)}"
    for r in rows:
        kind = r.get("kind")
        if kind == "exact":
            manifest_rows["exact_duplicate_of"][r["ticket_id"]] = r["orig"]["ticket_id"]
        elif kind == "near":
            manifest_rows["near_duplicate_of"][r["ticket_id"]] = r["orig"]["ticket_id"]
        elif kind == "empty":
            manifest_rows["empty_answer"].append(r["ticket_id"])
        elif kind == "off_topic":
            manifest_rows["off_topic"].append(r["ticket_id"])
    counts = {"email": 0, "phone": 0, "card": 0}
    values = {"email": [], "phone": [], "card": []}
    for r in rows:
        for kind, val in r["pii"]:
            counts[kind] += 1
            values[kind].append(val)
            manifest_rows["pii"].setdefault(r["ticket_id"], []).append(kind)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")  # helpdesk tools export with CRLF line endings
    w.writerow(["ticket_id", "created_at", "channel", "customer_question", "account_info", "agent_reply"])
    for n, r in enumerate(rows):
        w.writerow([r["ticket_id"], stamp(n), rng.choice(CHANNELS), r["q"], r["ctx"], r["a"]])
    manifest = {
        "file": "support/support_raw_export.csv",
        "columns": {"instruction": "customer_question", "input": "account_info", "output": "agent_reply"},
        "rows": len(rows),
        "rows_from_clean": n_clean,
        "planted": {
            "exact_duplicates": len(manifest_rows["exact_duplicate_of"]),
            "near_duplicates": len(manifest_rows["near_duplicate_of"]),
            "empty_answers": len(manifest_rows["empty_answer"]),
            "off_topic": len(manifest_rows["off_topic"]),
            "pii_items": sum(counts.values()),
            "pii_by_type": counts,
        },
        "exact_duplicate_of": manifest_rows["exact_duplicate_of"],
        "near_duplicate_of": manifest_rows["near_duplicate_of"],
        "empty_answer": manifest_rows["empty_answer"],
        "off_topic": manifest_rows["off_topic"],
        "pii_rows": manifest_rows["pii"],
        "pii_values": values,
        "notes": ("Duplicates always come after their original in file order. Near duplicates differ only by "
                  "casing, punctuation, swapped words or spacing. Off-topic rows share no words with the product. "
                  "Empty answers are blank, whitespace or empty HTML. PII values are fake: example.com domains, "
                  "555-01xx phone numbers, Luhn-valid card numbers starting with 4 that belong to no one."),
    }
    return out.getvalue(), manifest


# ----------------------------------------------------------------------------------------------------------
# Sentiment reviews (3 classes, deliberately imbalanced)
# ----------------------------------------------------------------------------------------------------------
PRODUCTS = ["wireless earbuds", "blender", "hiking backpack", "desk lamp", "running shoes", "coffee grinder",
            "phone case", "e-reader", "air fryer", "office chair", "water bottle", "electric toothbrush",
            "robot vacuum", "yoga mat", "bluetooth speaker", "kettle", "rain jacket", "mechanical keyboard",
            "baby monitor", "camping tent", "smart watch", "frying pan", "webcam", "hair dryer"]
ASPECTS = {
    "pos": ["The battery easily lasts {n} days.", "Build quality feels solid for the price.",
            "It arrived {n} days early and was well packed.", "Setup took less than {n} minutes.",
            "It's really quiet, even on the highest setting.", "Customer service replied within a day when I had a question.",
            "Comfortable enough to use for hours.", "The instructions were clear and short.",
            "Looks even better than in the photos.", "Cleaning it is quick and painless.",
            "My {who} loves it too.", "Worth every penny.", "Does exactly what it promises.",
            "After {n} weeks of daily use it still works like new.", "The colour is lovely and hasn't faded.",
            "I use it every single morning now.", "Lighter than I expected, which I appreciate.",
            "The seller even included a spare part.", "It replaced two older gadgets in my kitchen drawer.",
            "I was sceptical after reading the reviews but it has been flawless.", "Feels premium in the hand.",
            "Took it on a {n}-day trip and it held up perfectly.", "Much better than the one it replaced.",
            "The little details are well thought out.", "Got it on sale, which made it a bargain."],
    "neg": ["It stopped working after {n} days.", "The battery barely lasts an afternoon.",
            "Delivery took {n} weeks and the box was crushed.", "Way too loud to use early in the morning.",
            "The plastic feels cheap and one clip already snapped.", "Customer service never answered my {n} emails.",
            "The instructions were missing a whole step.", "Nothing like the photos, the colour is off.",
            "It gets uncomfortably hot after {n} minutes.", "Returned it, the refund took ages.",
            "Smells of chemicals even after airing it for {n} days.", "Overpriced for what you get.",
            "The app keeps disconnecting.", "Sizing is completely wrong.", "My {who} couldn't get it to work either.",
            "The replacement they sent had the same fault.", "A seam started coming apart in week {n}.",
            "The buttons are so stiff they hurt my thumb.", "It rattles every time I use it.",
            "Half the features listed on the box are missing.", "The charger died after {n} uses.",
            "Leaked all over my bag on the first day.", "I gave up on it after {n} attempts to pair it."],
    "neu": ["It does the job, nothing more.", "Battery life is about what I expected.", "Delivery was on time.",
            "Build quality is fine for the price.", "It's a bit louder than I hoped but not a dealbreaker.",
            "Setup was okay once I found the right video.", "Average in every way.",
            "Some features are handy, others I never use.", "It's fine for occasional use.",
            "The colour is slightly different from the photos.", "I expected a bit more for the money.",
            "Works as described, though the manual is thin.", "My {who} thinks it's okay.",
            "I haven't decided yet whether it was worth it.", "It's comparable to the cheaper one I had before.",
            "Neither impressed nor disappointed after {n} weeks.", "The design is plain but practical.",
            "Delivery took {n} days, as promised.", "I'd call it good value only at a discount.",
            "It took a while to get used to.", "Some days it works perfectly, other days less so."],
}
OPEN = {
    "pos": ["Really happy with this {p}.", "Great {p}!", "Best {p} I've owned.", "I bought this {p} for my {who} and",
            "Five stars for this {p}.", "Pleasantly surprised by this {p}.", "Second {p} from this brand and still impressed.",
            "Love this {p}.", "Exactly the {p} I was looking for.", "My new favourite {p}.",
            "Upgraded to this {p} last month and no regrets."],
    "neg": ["Very disappointed with this {p}.", "Do not buy this {p}.", "What a waste of money this {p} was.",
            "I bought this {p} for my {who} and", "One star for this {p}.", "Regret buying this {p}.",
            "This {p} was a let-down.", "Unfortunately this {p} didn't work out.",
            "Second {p} I've returned this year.", "I wanted to like this {p}.", "Not happy with this {p} at all."],
    "neu": ["This {p} is okay.", "Mixed feelings about this {p}.", "It's a decent {p}.", "I bought this {p} for my {who} and",
            "Three stars for this {p}.", "Not bad, not great: a {p} like any other.", "An ordinary {p}.",
            "The {p} is alright I suppose.", "Honest review of this {p}:", "Used this {p} for a month now.",
            "Middle of the road {p}."],
}
AND_CONT = {"pos": "we're both delighted.", "neg": "it went back within a week.", "neu": "it's fine."}
CLOSE = {
    "pos": ["Would recommend.", "Buying another one as a gift.", "Highly recommended!", "", "", "Ten out of ten."],
    "neg": ["Avoid.", "Would not recommend.", "Save your money.", "", "", "Very annoyed."],
    "neu": ["Might buy again if it's on sale.", "Does what it says.", "Three stars.", "", "", "It's fine, I guess."],
}
WHO = ["daughter", "son", "dad", "mum", "partner", "flatmate", "grandmother", "colleague", "brother", "sister"]


def make_review(rng, label):
    key = {"positive": "pos", "negative": "neg", "neutral": "neu"}[label]
    p, who = rng.choice(PRODUCTS), rng.choice(WHO)
    opener = rng.choice(OPEN[key]).format(p=p, who=who)
    if opener.endswith(" and"):
        opener = opener + " " + AND_CONT[key]
    k = rng.choice([1, 2, 2, 3])
    pool = ASPECTS[key][:]
    if key == "neu" and rng.random() < 0.5:  # neutral reviews often mix one good and one bad point
        pool = ASPECTS["neu"] + [rng.choice(ASPECTS["pos"]), rng.choice(ASPECTS["neg"])]
    body = [s.format(n=rng.randrange(2, 15), who=rng.choice(WHO)) for s in rng.sample(pool, k)]
    text = " ".join([opener] + body + [rng.choice(CLOSE[key])]).strip()
    if rng.random() < 0.1:
        text = text.lower()
    return text


def make_reviews(rng, n=1200, shares=(("positive", 0.6), ("negative", 0.25), ("neutral", 0.15))):
    rows, kept_words = [], []
    for label, share in shares:
        want = round(n * share)
        got = 0
        while got < want:
            t = make_review(rng, label)
            words = set(t.lower().split())
            # reject anything close to an earlier review (word-set overlap first, then difflib), so a
            # near-duplicate pass keeps every review
            if any(len(words & w) / len(words | w) > 0.5 and too_similar(t.lower(), u.lower(), 0.8)
                   for u, w in kept_words):
                continue
            kept_words.append((t, words))
            rows.append((t, label))
            got += 1
    # fixed split, stratified by label: 70 % train, 10 % validation, 20 % test
    out = []
    for label, _ in shares:
        items = [r for r in rows if r[1] == label]
        rng.shuffle(items)
        n_test, n_val = round(len(items) * 0.2), round(len(items) * 0.1)
        for i, (t, lab) in enumerate(items):
            split = "test" if i < n_test else "validation" if i < n_test + n_val else "train"
            out.append((t, lab, split))
    rng.shuffle(out)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["text", "label", "split"])
    w.writerows(out)
    return buf.getvalue(), len(out)


# ----------------------------------------------------------------------------------------------------------
# The sister domain: Brightleaf Tasks, a to-do list app by the same fictional Brightleaf Labs (notebook 07,
# transfer between domains). Support pairs written like the Notes ones, from its own fact table; six facts are
# company-wide (the Brightleaf account, billing and support, the same value and wording as the Notes fact named in
# `shared_with`), twelve belong to Tasks alone (several are a Notes fact with another value: prices, limits).
# Each fact has three training phrasings and two held-out ones (data/tasks/questions.jsonl, never in the pairs).
# ----------------------------------------------------------------------------------------------------------
TASKS_SEED = SEED + 2  # 20261124: its own stream, so the Notes and review files above never change with it
TASKS_PRODUCT = "Brightleaf Tasks"
TASKS_FACTS = []


def T(fid, cat, statement, value, shared_with, train_questions, held_out, answers, keywords=None):
    TASKS_FACTS.append(dict(fact_id=fid, category=cat, statement=statement, value=value, shared_with=shared_with,
                            train_questions=train_questions, held_out=held_out, answers=answers,
                            keywords=keywords or ["{v}"]))


# --- company-wide: the same policy as Brightleaf Notes ----------------------------------------------------------
T("t-annual-discount", "billing", "Paying yearly instead of monthly saves {v}.", "20%", "f-annual-discount",
  ["Is the yearly plan cheaper?", "Do I save anything by paying annually?", "What discount do I get for paying a year upfront?"],
  ["How much cheaper is annual billing for Tasks?", "What's the saving if I switch my task list subscription to yearly?"],
  ["Yes, annual billing saves {v} compared with paying month by month.",
   "Paying yearly gives you {v} off the monthly price."])
T("t-student", "billing", "Students and teachers get {v} off Tasks Plus and Pro.", "50%", "f-student",
  ["Is there a student price for Tasks?", "Do teachers get a discount?", "I'm at university, can I get Pro for less?"],
  ["How big is the education discount on Brightleaf Tasks?", "What discount do students get on the to-do app?"],
  ["Yes, students and teachers get {v} off Plus and Pro.",
   "We offer {v} off Plus and Pro for students and teaching staff."])
T("t-payment", "billing", "Subscriptions can be paid by card, {v} or Apple Pay.", "PayPal", "f-payment",
  ["How can I pay for Tasks Plus?", "Can I pay for my subscription without a credit card?",
   "Which payment options are there?"],
  ["Besides a card, what can I use to pay for Brightleaf Tasks?", "Is PayPal accepted for a Tasks subscription?"],
  ["We accept credit and debit cards, {v} and Apple Pay.", "Besides cards you can pay with {v} or Apple Pay."])
T("t-chat-hours", "support", "Live chat is open {v}.", "Monday to Friday, 8:00 to 18:00 CET", "f-chat-hours",
  ["When can I chat with support?", "What are the live chat hours?", "Is support available on Saturdays?"],
  ["At what times is the Tasks support chat staffed?", "When is someone on live chat for the to-do app?"],
  ["Live chat is open {v}; outside those hours send us a message and we'll reply by email.",
   "You can reach live chat {v}."],
  keywords=["Monday to Friday", "8:00", "18:00"])
T("t-reset-link", "account", "A password reset link is valid for {v}.", "1 hour", "f-reset-link",
  ["My reset link has expired, why?", "How long does a password reset email work?",
   "The link to reset my password doesn't open anymore."],
  ["For how long can I use the password reset link for Tasks?", "When does a Brightleaf password reset link expire?"],
  ["Reset links are valid for {v}. Request a new one from the sign-in page if it has expired.",
   "A reset link expires after {v}; ask for a fresh one and use it straight away."])
T("t-2fa", "account", "Two-factor authentication is set up in {v}.", "Settings > Security > Two-factor", "f-2fa",
  ["How do I turn on two-factor authentication?", "Can I protect my account with 2FA?",
   "Where is the two-step verification setting?"],
  ["Which menu enables 2FA in Brightleaf Tasks?", "Where do I set up two-factor login for my task account?"],
  ["Open {v} and scan the QR code with an authenticator app.", "Yes, go to {v}; we support authenticator apps."])

# --- Brightleaf Tasks alone ----------------------------------------------------------------------------------------
T("t-free-projects", "plans", "The Free plan allows up to {v}.", "5 projects", None,
  ["How many projects can I have on the free plan?", "Is there a project limit without a subscription?",
   "Why can't I create another project? I'm a free user."],
  ["What's the maximum number of projects for free accounts in Tasks?", "How many task projects come with Free?"],
  ["The Free plan allows up to {v}; Plus and Pro have no project limit.",
   "Free accounts can keep up to {v}. Archive one or upgrade to add more."])
T("t-plus-price", "billing", "Tasks Plus costs {v}.", "$3.99 per month", None,
  ["How much is Tasks Plus?", "What does the Plus plan cost for the to-do app?", "I'd like to upgrade to Plus, what's the price?"],
  ["What is the monthly price of Brightleaf Tasks Plus?", "How much do I pay each month for Plus in Tasks?"],
  ["Tasks Plus costs {v}. Annual billing brings the monthly cost down.",
   "The Plus plan is {v}, billed to the payment method on your account."])
T("t-pro-price", "billing", "Tasks Pro costs {v}.", "$6.99 per month", None,
  ["What's the price of Tasks Pro?", "How much does a Pro subscription cost for Tasks?",
   "Can you tell me what Pro costs per month?"],
  ["What do I pay monthly for Brightleaf Tasks Pro?", "How much is the Pro tier of the to-do app?"],
  ["Tasks Pro is {v}, and you can cancel any time.", "A Pro subscription costs {v}; yearly billing costs less."])
T("t-quick-add", "shortcuts", "Add a task from anywhere with {v}.", "Ctrl+Q", None,
  ["What's the shortcut to add a task?", "Is there a hotkey for quick add?",
   "How do I add a task without opening the app window?"],
  ["Which keys open quick add in Brightleaf Tasks?", "What is the keyboard shortcut for a new task?"],
  ["Press {v} to open quick add from anywhere, even when the app is in the background.",
   "{v} opens quick add; type the task and press Enter."])
T("t-recurring", "tasks", "A task repeats when its title ends with a rule such as {v}.", "every weekday", None,
  ["How do I make a task repeat?", "Can tasks be recurring?", "I want a reminder task that comes back every morning."],
  ["What do I type to create a repeating task?", "How are recurring tasks set up in Tasks?"],
  ["End the task's title with a rule such as {v}, and a new copy appears each time you complete it.",
   "Type a rule like {v} at the end of the title; the task then repeats on its own."])
T("t-priority", "tasks", "Mark a task as high priority by typing {v} in its title.", "!!", None,
  ["How do I set a task's priority?", "Can I flag a task as urgent?", "Is there a quick way to mark something important?"],
  ["What do I type to make a task high priority?", "How do I give a task the top priority?"],
  ["Type {v} anywhere in the title and the task turns red and moves to the top.",
   "Add {v} to the task's title to mark it high priority."])
T("t-done-days", "tasks", "Completed tasks stay in the Done list for {v} before they are archived.", "90 days", None,
  ["Where do my completed tasks go?", "How long are finished tasks kept?", "I ticked off a task by mistake weeks ago, is it still there?"],
  ["How long does the Done list keep completed tasks?", "When are completed tasks archived?"],
  ["Completed tasks stay in the Done list for {v}; after that they are archived, not deleted.",
   "Finished tasks are kept in Done for {v}. Untick one there to bring it back."])
T("t-focus-timer", "features", "The focus timer runs for {v} by default.", "25 minutes", None,
  ["How long is the focus timer?", "Can I use a Pomodoro timer in the app?", "What's the default focus session length?"],
  ["How many minutes does a focus session last by default?", "What is the standard length of the Tasks focus timer?"],
  ["The focus timer runs for {v} by default; you can change it in its settings.",
   "A focus session lasts {v} unless you pick another length."])
T("t-calendar-view", "views", "The calendar view is opened from {v}.", "View > Calendar", None,
  ["How do I see my tasks on a calendar?", "Is there a calendar view?", "Where can I see tasks by due date in a month grid?"],
  ["Which menu opens the calendar view in Tasks?", "How do I switch to the calendar layout?"],
  ["Open {v} to see every task with a due date on a monthly calendar.",
   "Yes: {v} shows your tasks by due date; drag one to move its date."])
T("t-subtasks", "tasks", "A task can hold up to {v}.", "50 subtasks", None,
  ["Can I split a task into smaller steps?", "Is there a limit on subtasks?", "How many checklist items can one task have?"],
  ["What is the maximum number of subtasks per task?", "How many subtasks fit under a single task?"],
  ["A task can hold up to {v}; press Tab on a new line to make one.", "Each task takes up to {v}."])
T("t-share-project", "sharing", "A project on Plus can be shared with up to {v}.", "5 people", None,
  ["How many people can I share a project with?", "Can I invite my family to a shopping list project?",
   "Is there a limit on project members on Plus?"],
  ["What's the collaborator limit for a Plus project in Tasks?", "How many members can join one shared project on Plus?"],
  ["On Plus a project can be shared with up to {v}; Pro raises the limit.",
   "You can invite up to {v} to one project on Plus."])
T("t-import", "import", "Tasks are imported from a {v} file under File > Import.", "CSV", None,
  ["Can I bring my tasks over from another app?", "How do I import a to-do list?", "Is there a way to move my old tasks in?"],
  ["Which file format does the Tasks import accept?", "What kind of file can I import tasks from?"],
  ["Export your list from the other app as a {v} file and open File > Import.",
   "Yes: File > Import reads a {v} file with one task per row."])

TASKS_POOLS = {
    "openers": ["", "", "", "Hi there! ", "Hello, ", "Hey, quick question. ", "Good morning. ", "Hi team, ",
                "Sorry to bother you. ", "I've been using Brightleaf Tasks for a year. ", "New user here. ",
                "My manager asked me to check something. ", "I'm setting this up for my dad. ",
                "We plan our whole renovation in Tasks. ", "I use the app for my revision timetable. ",
                "Quick one before my stand-up. ", "Long-time Pro user. ", "I couldn't find this in the help pages. ",
                "I run a small cleaning business and track jobs in the app. ",
                "My partner and I share a project for groceries. ", "Just switched from another to-do app. "],
    "suffixes": ["", "", "", "", " Thanks!", " Thanks in advance.", " Cheers.", " Any help appreciated.",
                 " Thank you!", " I'm on the Windows app.", " I mostly use the iPhone app.",
                 " This is on my Android phone.", " I'm using the web version.", " Asking before I renew.",
                 " It's a bit urgent.", " Many thanks, Alex."],
    "greetings": ["", "", "", "Hi! ", "Hello, ", "Thanks for reaching out. ", "Good question! ", "Happy to help. ",
                  "Thanks for getting in touch. ", "Hi there, ", "Sure thing. ", "Thanks for asking. "],
    "closers": ["", "", "", " Let us know if anything is unclear.", " Hope that helps!", " Have a great day.",
                " Feel free to reply if you have more questions.", " We're here if you need anything else.",
                " Just reply to this message if it doesn't work.", " Thanks for using Brightleaf Tasks!",
                " Happy planning!"],
    "contexts": ["", "", "", "", "", "", "Plan: Free\nDevice: Android phone", "Plan: Plus (monthly)\nDevice: Windows laptop",
                 "Plan: Pro (annual)\nDevice: MacBook", "Plan: Free\nDevice: iPhone", "Plan: Plus (annual)\nDevice: iPad",
                 "Plan: Pro (monthly)\nDevice: web app", "Customer since 2024, Plus plan"],
}


def build_tasks() -> dict[str, str]:
    """The sister domain's files (data/tasks/): facts, 12 support pairs per fact, two held-out questions per fact."""
    rng = random.Random(TASKS_SEED)
    files = {}
    files["tasks/facts.jsonl"] = jsonl(
        {"fact_id": f["fact_id"], "category": f["category"], "statement": render(f["statement"], f["value"]),
         "value": f["value"], "shared_with": f["shared_with"]} for f in TASKS_FACTS)
    files["tasks/support_pairs.jsonl"] = jsonl(make_pairs(rng, TASKS_FACTS, 12, "tp", pools=TASKS_POOLS))
    # held-out questions: the first phrasing of every fact (a prefix of 18 covers every fact, a third of them
    # shared), then the second phrasings, Tasks' own facts first (a longer prefix never over-weights shared facts)
    own_first = sorted(TASKS_FACTS, key=lambda f: f["shared_with"] is not None)
    questions = [(f, f["held_out"][0]) for f in TASKS_FACTS] + [(f, f["held_out"][1]) for f in own_first]
    files["tasks/questions.jsonl"] = jsonl(
        {"qid": f"tq-{i + 1:03d}", "question": q, "answer": render(f["statement"], f["value"]),
         "keywords": fact_keywords(f, f["value"]), "fact_id": f["fact_id"], "category": f["category"],
         "shared": f["shared_with"] is not None} for i, (f, q) in enumerate(questions))
    return files


# ----------------------------------------------------------------------------------------------------------
def jsonl(rows) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def build() -> dict[str, str]:
    rng = random.Random(SEED)
    files = {}
    changes = {fid: (new, doc) for fid, new, doc in CHANGES}

    facts_rows = [{"fact_id": f["fact_id"], "doc_id": f["doc_id"], "statement": render(f["statement"], f["value"]),
                   "value": f["value"], "in_training": f["in_training"]} for f in FACTS]
    files["support/facts.jsonl"] = jsonl(facts_rows)

    kb = []
    for doc, title in DOCS.items():
        facts = [f for f in FACTS if f["doc_id"] == doc]
        sentences = [render(f["statement"], f["value"]) for f in facts]
        if doc in DOC_FILLER:
            sentences.insert(1 if sentences else 0, DOC_FILLER[doc])
        kb.append({"doc_id": doc, "title": title, "text": " ".join(sentences),
                   "fact_ids": [f["fact_id"] for f in facts]})
    files["support/knowledge_base.jsonl"] = jsonl(kb)

    trained = [f for f in FACTS if f["in_training"]]
    n_per = -(-620 // len(trained))  # enough pairs for >= 600
    clean = make_pairs(rng, trained, n_per, "sc")
    files["support/support_clean.jsonl"] = jsonl(clean)

    by_id = {f["fact_id"]: f for f in FACTS}
    notes = []
    for doc, (title, intro) in RN_DOCS.items():
        ch = [(fid, new) for fid, (new, d) in changes.items() if d == doc]
        sent = [intro]
        change_rows = []
        for fid, new in ch:
            f = by_id[fid]
            sent.append(f"Changed: {render(f['statement'], new).rstrip('.')} (previously {f['value']}).")
            change_rows.append({"fact_id": fid, "old_value": f["value"], "new_value": new,
                                "statement": render(f["statement"], new)})
        if doc == "rn2-05":
            for fid, st, val, _, _ in NEW_FEATURES:
                sent.append(f"New: {render(st, val)}")
                change_rows.append({"fact_id": fid, "old_value": None, "new_value": val, "statement": render(st, val)})
        notes.append({"doc_id": doc, "title": title, "text": " ".join(sent), "changes": change_rows})
    files["support/release_notes_v2.jsonl"] = jsonl(notes)

    # fact questions: held-out phrasing for trained facts, the KB-only facts, and changed facts (new values)
    fq = []
    for f in FACTS:
        if f["in_training"] and f["fact_id"] not in changes:
            fq.append(("trained", f, f["questions"][-1], f["value"], f["doc_id"]))
        elif not f["in_training"]:
            fq.append(("kb_only", f, f["questions"][-1], f["value"], f["doc_id"]))
    for fid, (new, doc) in changes.items():
        f = by_id[fid]
        fq.append(("changed", f, f["questions"][-1], new, doc))
        fq.append(("changed", f, f["questions"][0], new, doc))
    fq_rows = []
    for i, (kind, f, q, val, doc) in enumerate(fq):
        fq_rows.append({"qid": f"fq-{i + 1:03d}", "question": q, "answer": render(f["statement"], val),
                        "keywords": fact_keywords(f, val), "kind": kind, "fact_id": f["fact_id"], "doc_id": doc})
    files["support/fact_questions.jsonl"] = jsonl(fq_rows)

    # new batch for continuous learning: the changed facts with new values + the new features
    changed_facts = [by_id[fid] for fid in changes]
    new_feats = [dict(fact_id=fid, doc_id="rn2-05", category="new-features", statement=st, value=val,
                      in_training=False, questions=qs, answers=ans, keywords=["{v}"])
                 for fid, st, val, qs, ans in NEW_FEATURES]
    new_values = {fid: new for fid, (new, _) in changes.items()}
    batch = make_pairs(rng, changed_facts + new_feats, 11, "nb", values=new_values)
    files["support/support_new_batch.jsonl"] = jsonl(batch)

    raw_csv, manifest = make_raw_export(rng, clean)
    files["support/support_raw_export.csv"] = raw_csv
    files["support/raw_export_manifest.json"] = json.dumps(manifest, indent=1, ensure_ascii=False) + "\n"

    reviews_csv, _ = make_reviews(random.Random(SEED + 1))
    files["sentiment/reviews.csv"] = reviews_csv
    files.update(build_tasks())
    return files


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with the files on disk instead of writing")
    args = ap.parse_args(argv)
    files = build()
    if args.check:
        bad = [name for name, text in files.items()
               if not (DATA / name).exists() or (DATA / name).read_bytes() != text.encode("utf-8")]
        for name in bad:
            print(f"differs: data/{name}", file=sys.stderr)
        return 1 if bad else 0
    for name, text in files.items():
        path = DATA / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(text.encode("utf-8"))
        tmp.replace(path)
        print(f"wrote data/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
