"""Quokka: count marsupials."""
