"""What both apps share: sign-in, sessions, permissions, security headers, base templates."""
