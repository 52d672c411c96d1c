"""Reads of the inbox: which conversations, messages and contacts a member sees, their
transcripts, and the keyset pages of the conversation list.

Who sees what is one rule, ``channels.visibility`` (admins: the whole organization; agents:
the channels they are associated with, in departments they work in); the HTML inbox and the
REST API read conversations, messages and contacts only through the filters of
``visibility``, which apply it. Anything else is "not found".

- visibility: the rule as filters on conversations, messages and contacts; one contact; the
  channels a member sees or may forward to; the members who may hold or be mentioned in a
  channel's conversations;
- filters: the inbox's filters (``ConversationFilters``) and the one condition they make;
- conversations: the list, the counts of its views, one conversation, the keyset pages, and
  a conversation's labels and referrals;
- messages: a conversation's messages, those a member sees, one message, a colleague's latest
  reply, and runs of messages by id (a ticket's part of the thread);
- transcript: a conversation's transcript (messages, system lines, private notes) and its
  private notes with their mentions;
- window_losses: conversations lost to a closed reply window, counted for the reports.

This package holds modules only: callers import the module that holds the name they need
(`from messenger.selectors import conversations as conversation_selectors`).
"""
