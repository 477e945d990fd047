"""``attune connect``: where Gemini lives (GCP project, region, bucket) and how to sign in."""

from __future__ import annotations

import argparse
import getpass
import sys

from cli.common import store_from_args
from core import gemini_connection as gconn


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("connect", help="set (or show, or test) the Vertex AI project, region, bucket and sign-in")
    p.add_argument("--project", metavar="P", help="Google Cloud project id")
    p.add_argument("--region", metavar="R", help=f"Vertex AI region (default {gconn.DEFAULT_REGION})")
    p.add_argument("--bucket", metavar="B", help="Cloud Storage bucket for tuning data (in the same region)")
    p.add_argument("--prefix", metavar="X", help="object name prefix inside the bucket (default attune)")
    auth = p.add_mutually_exclusive_group()
    auth.add_argument("--adc", action="store_true", help="sign in with Application Default Credentials")
    auth.add_argument("--service-account", metavar="FILE", help="sign in with this service-account JSON file")
    auth.add_argument("--access-token-file", metavar="FILE",
                      help=f"read an OAuth access token from FILE on each use (or set ${gconn.TOKEN_ENV})")
    p.add_argument("--api-key-prompt", action="store_true",
                   help="ask for a Gemini API key and keep it in the OS keychain only")
    p.add_argument("--test", action="store_true", help="check each part of the connection and say which failed")
    p.set_defaults(handler=cmd_connect)


def cmd_connect(args: argparse.Namespace) -> int:
    changes: dict[str, object] = {"project": args.project, "region": args.region, "bucket": args.bucket,
                                  "prefix": args.prefix}
    if args.adc:
        changes["auth"] = "adc"
    elif args.service_account:
        changes.update(auth="service_account", service_account_file=args.service_account)
    elif args.access_token_file:
        changes.update(auth="access_token", access_token_file=args.access_token_file)
    with store_from_args(args) as store:
        if any(v is not None for v in changes.values()):
            conn = gconn.update(store, **changes)
        else:
            conn = gconn.load(store)
    if args.api_key_prompt:
        key = getpass.getpass("Gemini API key (not shown): ").strip()
        if key and gconn.store_api_key(key):
            print("API key kept in the OS keychain")
        elif key:
            print("no secure keychain on this system: the key was not stored (you will be asked each session)",
                  file=sys.stderr)
    print(f"project:  {conn.project or '(not set)'}")
    print(f"region:   {conn.region}")
    print(f"bucket:   {('gs://' + conn.bucket + '/' + conn.prefix) if conn.bucket else '(not set)'}")
    sign_in = {"adc": "Application Default Credentials", "service_account": f"service account {conn.service_account_file}",
               "access_token": f"access token from {conn.access_token_file}"}[conn.auth]
    print(f"sign-in:  {sign_in}")
    if not args.test:
        return 0
    failed = 0
    for check in gconn.test_connection(conn):
        failed += not check.ok
        print(f"{'ok  ' if check.ok else 'FAIL'}  {check.part}: {check.message}")
    return 1 if failed else 0
