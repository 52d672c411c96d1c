"""One date and time format per language (settings.FORMAT_MODULE_PATH), read by
helpdesk.datetimes and by every `|date:"…_FORMAT"` Django renders: absolute times are
unambiguous ("6 Dec 2026, 17:20", "2026年12月6日 17:20"), never "12/06/2026"."""
