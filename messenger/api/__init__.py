"""REST API of the inbox: conversations, their messages, replies and actions.

Agents see (and act on) the conversations of their channels only; anything else is 404.
Every route lets agents write (``admin_only_writes = False``): the checks that matter
(visibility, reply window, channel state) are the services'.

One module per part: ``conversations`` and ``messages`` (the viewsets), ``serializers``,
``pagination``, ``errors`` (the error responses the routes document); the router is
``messenger.api_urls``.
"""
