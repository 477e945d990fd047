"""The curation screen: transcript list, conversation, decision panel."""
