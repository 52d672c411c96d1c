"""The sandbox's views: the Graph API (JSON), the login dialog, the controls and the simulator."""
