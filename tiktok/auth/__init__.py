"""Log in with TikTok and keep tokens alive: PKCE, the OAuth client, the token store, fresh tokens, refresh runs."""
