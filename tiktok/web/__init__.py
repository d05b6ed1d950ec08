"""The local web app: ``app`` builds it (:func:`tiktok.web.app.create_app`), ``run`` is ``python app.py``.

This package's ``__init__`` stays empty on purpose: ``app.py --help`` imports ``tiktok.web.run`` without Flask.
"""
