"""Writes on conversations, one module per kind of action: read state (``read_state``),
who holds a conversation and where it is filed (``assignment``), open and closed
(``state``), the customer's block (``blocking``), and what follows when the desk is
reorganized around conversations (``reorganization``).

Every action leaves a system line (ConversationEvent) in the transcript (``events``).
Visibility is the caller's business (it found the conversation through
``messenger.selectors``); these functions check what the action itself requires.

This package holds modules only: callers import the module that holds the name they need.
"""
