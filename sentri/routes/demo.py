"""A small demo shop served by Sentri itself, so the demo project's first run needs nothing else."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

bp = Blueprint("demo", __name__, url_prefix="/demo", template_folder="../demo/templates")

PRODUCTS = {
    "espresso": ("Espresso", "2.50"),
    "flat-white": ("Flat white", "3.20"),
    "cortado": ("Cortado", "3.00"),
}


@bp.get("/")
def home():
    return render_template("demo/home.html", products=PRODUCTS)


@bp.get("/login")
def login():
    return render_template("demo/login.html")


@bp.get("/dashboard")
def dashboard():
    # The demo login form submits with GET: the demo holds no state and needs no CSRF token.
    email = request.args.get("email", "").strip()
    if not email or not request.args.get("password"):
        return render_template("demo/login.html", error="Enter an email and a password."), 400
    return render_template("demo/dashboard.html", email=email)


@bp.get("/cart")
def cart():
    item = request.args.get("item", "")
    if item and item not in PRODUCTS:
        abort(404)
    return render_template("demo/cart.html", product=PRODUCTS.get(item))
