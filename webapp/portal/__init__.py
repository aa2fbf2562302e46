"""The client portal: blueprints that only create_portal_app loads."""
