"""Parser conformance: each backend's own glm47/glm45 parsers against glmbench's reference on the same raw replies.

:mod:`corpus` and :mod:`edge_cases` write the replies and their expected parses;
:mod:`drivers` holds one standalone script per backend, run with that backend's
own interpreter (glmbench never imports vllm, sglang or lightllm); :mod:`driver`
runs them; :mod:`compare` turns their answers into the table.
"""
