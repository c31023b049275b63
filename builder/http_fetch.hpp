// Downloads over HTTP(S) and file:// with libcurl. Placeholder until filled in.
#pragma once
