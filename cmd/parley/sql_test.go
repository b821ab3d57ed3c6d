package main

import (
	"database/sql"

	_ "github.com/mattn/go-sqlite3" // to read the database a test server wrote
)

func sqlOpen(path string) (*sql.DB, error) { return sql.Open("sqlite3", path+"?_query_only=1") }
