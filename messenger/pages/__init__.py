"""Facebook Pages linked to Messenger channels.

- policy: when a page's authorization runs out (the 60-day policy and the token's expiry);
- authorization: the state machine of a page's authorization, the only writer of its status;
- notices: what the organization's admins are told about it;
- grants: what Facebook granted in one pass through Facebook Login;
- linking: linking, re-authorizing and removing pages;
- selectors: reading pages; kind: the Messenger kind of channel for the channels app;
- sweeps: the hourly token expiry sweep.

Page tokens are stored encrypted (messenger.crypto) and leave this package only towards the
Graph client: never in logs, messages, API responses or HTML.

Callers import the module they need (`from messenger.pages import linking`); this package
imports none of them, so messenger.client can use messenger.pages.authorization while the
linking and the sweep use messenger.client.
"""
