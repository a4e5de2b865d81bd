"""The ingestion pipeline: fetch → parse → sanitize → decide, orchestrated by `refresh`.

Plain Python with no Django import: typed, frozen data in, typed data out (see `types`).
The store it hands its results to is passed in as a protocol (`refresh.Store`).
"""
