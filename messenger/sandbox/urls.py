"""The Graph API sandbox: served under /sandbox/ when GRAPH_SANDBOX is on.

``graph/<version>/...`` and ``dialog/<version>/dialog/oauth`` are what the product's Graph
client calls (FB_GRAPH_URL, FB_DIALOG_URL); the rest are pages for people.
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path, register_converter

from messenger.sandbox.views import controls, dialog, graph, simulator


class GraphVersionConverter:
    regex = r"v\d+\.\d+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(GraphVersionConverter, "graph_version")

app_name = "sandbox"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", controls.index, name="index"),
    # Facebook's side, spoken to by messenger.graph.GraphClient
    path("dialog/<graph_version:version>/dialog/oauth", dialog.oauth, name="dialog_oauth"),
    path("graph/<graph_version:version>/oauth/access_token", graph.oauth_access_token, name="graph_access_token"),
    path("graph/<graph_version:version>/debug_token", graph.debug_token, name="graph_debug_token"),
    path("graph/<graph_version:version>/<str:node_id>/accounts", graph.accounts, name="graph_accounts"),
    path("graph/<graph_version:version>/<str:node_id>/messages", graph.messages, name="graph_messages"),
    path(
        "graph/<graph_version:version>/<str:node_id>/message_attachments",
        graph.message_attachments,
        name="graph_message_attachments",
    ),
    path(
        "graph/<graph_version:version>/<str:node_id>/subscribed_apps",
        graph.subscribed_apps,
        name="graph_subscribed_apps",
    ),
    path("graph/<graph_version:version>/<str:node_id>", graph.node, name="graph_node"),
    path("graph/<path:rest>", graph.unknown_path, name="graph_unknown"),
    # Stand-ins for Facebook's CDN
    path("cdn/profile/<str:psid>.png", simulator.profile_pic, name="profile_pic"),
    path("cdn/<str:kind>.png", simulator.cdn_image, name="cdn_image"),
    path("cdn/files/<str:name>", simulator.cdn_file, name="cdn_file"),
    path("cdn/uploads/<str:attachment_id>", simulator.upload_file, name="upload_file"),
    # Controls for a person
    path("controls/tokens/expire/", controls.tokens_expire, name="controls_tokens_expire"),
    path("controls/permissions/revoke/", controls.permission_revoke, name="controls_permission_revoke"),
    path("controls/app/remove/", controls.app_remove, name="controls_app_remove"),
    path("controls/app/remove-and-delete/", controls.data_deletion_request, name="controls_data_deletion_request"),
    path("controls/password/change/", controls.password_change, name="controls_password_change"),
    path("controls/failures/", controls.failures_script, name="controls_failures_script"),
    path("controls/failures/clear/", controls.failures_clear, name="controls_failures_clear"),
    path("controls/subscription/drop/", controls.subscription_drop, name="controls_subscription_drop"),
    path("controls/webhooks/flush/", controls.webhooks_flush, name="controls_webhooks_flush"),
    path("controls/reset/", controls.reset, name="controls_reset"),
    # The customer simulator
    path("simulator/<str:page_id>/", simulator.simulator, name="simulator"),
    path("simulator/<str:page_id>/thread/", simulator.simulator_thread, name="simulator_thread"),
    path("simulator/<str:page_id>/send/", simulator.simulator_send, name="simulator_send"),
    path("simulator/<str:page_id>/read/", simulator.simulator_read, name="simulator_read"),
    path("simulator/<str:page_id>/referral/", simulator.simulator_referral, name="simulator_referral"),
    path("simulator/<str:page_id>/customers/", simulator.simulator_customer_create, name="simulator_customer_create"),
]
