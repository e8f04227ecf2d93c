"""Destinations besides e-mail (issue 19, contract section 6): webhook, Slack, Teams, SFTP, S3.

secrets.py   Fernet (MultiFernet) encryption of destination secrets, keys from the configuration
outbound.py  who may be reached: https and public addresses only, checked after DNS resolution and
             again on the socket actually connected (rebinding); an HTTP POST that follows no redirect
signing.py   the webhook signature header (t=...,v1=HMAC-SHA256) and its verification
content.py   one DeliveryContent built per run, and the JSON each HTTP channel sends
channels/    one file per kind behind Channel (registry by kind)
protect.py   password-protected (AES-256) zip files
"""
